"""What the time labels tell: the series' frequency and season, and calendar features.

:func:`infer_season` reads the labels :func:`lstmctl.data.loading.time_labels`
gives and returns the frequency's name and its season length (``season:``'s
default, the seasonal baselines' lag). :func:`calendar_features` derives
inputs from the time itself (``data.calendar``): they are known for any future
step, so they may be given for the forecast steps as well as the past.

Each calendar feature is encoded cyclically, as the sine and cosine of
2π·value/period:

- December sits next to January (and 23:00 next to midnight), as it does in
  time, where a plain number 1..12 puts them furthest apart;
- two columns carry it, where one-hot needs 12 (or 24, 53, 366);
- every date maps onto the same circle, so a future date brings no category
  the model has not seen.

The sine alone cannot tell the rising from the falling half of the cycle;
the cosine, a quarter turn later, can.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format
from pandas.tseries.frequencies import to_offset

__all__ = ["CALENDAR_FEATURES", "calendar_features", "infer_season"]


# --------------------------------------------------------------------------- season

# The frequency's name and the season length a forecaster expects for it:
# months in a year, quarters in a year, weeks in a year, days in a week,
# hours in a day, minutes in an hour. None where no one season is standard.
_FREQUENCIES: dict[str, tuple[str, int | None]] = {
    **dict.fromkeys(("MS", "ME", "M", "BMS", "BME", "BM"), ("monthly", 12)),
    **dict.fromkeys(("QS", "QE", "Q", "BQS", "BQE", "BQ"), ("quarterly", 4)),
    **dict.fromkeys(("YS", "YE", "Y", "A", "AS", "BYS", "BYE"), ("yearly", None)),
    "W": ("weekly", 52),
    "D": ("daily", 7),
    "B": ("business daily", 5),
    **dict.fromkeys(("h", "H"), ("hourly", 24)),
    **dict.fromkeys(("min", "T"), ("minutely", 60)),
    **dict.fromkeys(("s", "S"), ("secondly", None)),
}
_FREQ = re.compile(r"^(\d*)([A-Za-z]+)")
# shampoo's "1-01": year 1, month 1 (a year too small for a timestamp)
_SHORT_YEAR_MONTH = re.compile(r"^\s*(\d{1,4})-(\d{2})\s*$")


def infer_season(labels: Sequence[str]) -> tuple[str | None, int | None]:
    """The labels' frequency ("monthly", "daily", ...) and season, or (None, None).

    Monthly data has a season of 12, quarterly 4, weekly 52, daily 7, hourly
    24, minutely 60; other regular frequencies (yearly, secondly) have a name
    and no season. A multiple such as every 2 hours has a name ("2-hourly")
    and the season divided by it (12) when it divides evenly. Labels that do
    not read as dates (row numbers, words), fewer than three, or times that
    are not evenly spaced (a few skipped rows aside, see ``_usual_step``)
    give (None, None). Month-start, month-end and mid-month dates all read
    as monthly.
    """
    times = _times(labels)
    if times is None or len(times) < 3:
        return None, None
    freq = _infer_freq(times)
    if freq is None:
        return None, None
    match = _FREQ.match(freq)
    if match is None or match.group(2) not in _FREQUENCIES:
        return None, None
    n = int(match.group(1) or 1)
    name, season = _FREQUENCIES[match.group(2)]
    if n == 1:
        return name, season
    return f"{n}-{name}", season // n if season is not None and season % n == 0 else None


def _times(labels: Sequence[str]) -> pd.DatetimeIndex | None:
    """The labels as times, when every one reads in the first one's format."""
    text = [str(v).strip() for v in labels]
    if not text:
        return None
    fmt = guess_datetime_format(text[0])
    if fmt is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            times = pd.to_datetime(text, format=fmt, errors="coerce")
        return None if times.isna().any() else pd.DatetimeIndex(times)
    return _short_year_months(text)


def _short_year_months(text: Sequence[str]) -> pd.DatetimeIndex | None:
    """Labels like "1-01", "3-12" as the months they count (years shifted into range)."""
    parts = [_SHORT_YEAR_MONTH.match(t) for t in text]
    if not all(parts):
        return None
    years = np.array([int(m.group(1)) for m in parts if m])
    months = np.array([int(m.group(2)) for m in parts if m])
    if not ((months >= 1) & (months <= 12)).all():
        return None
    if years.max() < 1000:
        years = years + 2000  # only the spacing matters here
    return pd.DatetimeIndex(pd.to_datetime({"year": years, "month": months, "day": 1}))


def _infer_freq(times: pd.DatetimeIndex) -> str | None:
    """A frequency string: in months when the day of the month holds, else pandas'.

    Months come first because pandas reads the 15th of every third month as
    "13W" (91 days apart, twice); failing both, the step nearly all rows are
    apart (see :func:`_usual_step`).
    """
    if not times.is_monotonic_increasing or times.has_duplicates:
        return None
    months = _month_steps(times)
    if months is not None:
        return months
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 4 will return an offset: read both
        try:
            freq = pd.infer_freq(times)
        except (TypeError, ValueError):
            return None
    if freq is not None:
        return str(to_offset(freq).freqstr)
    return _fixed_steps(times)


def _usual_step(steps: np.ndarray) -> int | None:
    """The step most rows are apart, when it is the rule and the others are gaps.

    A series with a few missing rows (daily-min-temperatures lacks two
    December 31sts) is still daily: at least nine steps in ten must be the
    usual one and every other step a whole multiple of it (skipped rows).
    """
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])
    if step <= 0 or counts.max() < 0.9 * len(steps) or (steps % step != 0).any():
        return None
    return step


def _month_steps(times: pd.DatetimeIndex) -> str | None:
    """Months, quarters or years ("MS", "QS", "YS") for dates on one day of the month.

    pandas names month starts and month ends; the 15th of every month it
    leaves unnamed, though a forecaster reads it as monthly.
    """
    if times.day.nunique() != 1 or len(np.unique(times.time)) != 1:
        return None
    months = times.year.to_numpy() * 12 + times.month.to_numpy()
    step = _usual_step(np.diff(months))
    if step is None:
        return None
    if step % 12 == 0:
        return f"{step // 12}YS"
    if step % 3 == 0:
        return f"{step // 3}QS"
    return f"{step}MS"


_UNITS = (("W", 7 * 86400), ("D", 86400), ("h", 3600), ("min", 60), ("s", 1))


def _fixed_steps(times: pd.DatetimeIndex) -> str | None:
    """Weeks, days, hours, ... ("W", "D", "h") for times a fixed step apart, gaps allowed."""
    ns = np.diff(times.as_unit("ns").asi8)
    if (ns % 1_000_000_000 != 0).any():
        return None
    step = _usual_step(ns // 1_000_000_000)
    if step is None:
        return None
    for code, size in _UNITS:
        if step % size == 0:
            return f"{step // size}{code}"
    return None


# --------------------------------------------------------------------------- features


def _month(t: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    return t.month.to_numpy() - 1, np.full(len(t), 12.0)


def _quarter(t: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    return t.quarter.to_numpy() - 1, np.full(len(t), 4.0)


def _dayofweek(t: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    return t.dayofweek.to_numpy(), np.full(len(t), 7.0)  # Monday is 0


def _dayofmonth(t: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    # the month's own length: its last day sits next to the next month's first
    return t.day.to_numpy() - 1, t.days_in_month.to_numpy()


def _dayofyear(t: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    # 365 or 366: December 31 sits next to January 1 in leap years too
    return t.dayofyear.to_numpy() - 1, np.where(t.is_leap_year, 366.0, 365.0)


def _weekofyear(t: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    # ISO weeks; an ISO year has 52 or 53 (53 when its December 28 is in week 53)
    iso = t.isocalendar()
    dec28 = pd.to_datetime({"year": iso["year"].to_numpy(), "month": 12, "day": 28})
    return iso["week"].to_numpy() - 1, dec28.dt.isocalendar()["week"].to_numpy()


def _hour(t: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    return t.hour.to_numpy(), np.full(len(t), 24.0)


def _minute(t: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    return t.minute.to_numpy(), np.full(len(t), 60.0)


# Each feature's value (from 0) and its period, per time: month 0..11 of 12,
# quarter 0..3 of 4, dayofweek 0..6 of 7 (Monday 0), dayofmonth 0.. of the
# month's days, dayofyear 0.. of the year's days (365 or 366), weekofyear
# (ISO) 0.. of the ISO year's weeks (52 or 53), hour 0..23 of 24, minute
# 0..59 of 60.
_PARTS: dict[str, Callable[[pd.DatetimeIndex], tuple[np.ndarray, np.ndarray]]] = {
    "month": _month,
    "dayofweek": _dayofweek,
    "dayofyear": _dayofyear,
    "dayofmonth": _dayofmonth,
    "weekofyear": _weekofyear,
    "quarter": _quarter,
    "hour": _hour,
    "minute": _minute,
}
CALENDAR_FEATURES: tuple[str, ...] = tuple(_PARTS)


def calendar_features(
    times: pd.DatetimeIndex, names: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Each named calendar feature as two float64 columns, its sine and cosine.

    Returns the (len(times), 2·len(names)) array and its column names
    ("month_sin", "month_cos", ...), in the order of ``names``. A value v of
    period p is sin(2π·v/p) and cos(2π·v/p) (see the module's docstring for
    why, and ``_PARTS`` for each period). An unknown or repeated name is a
    ValueError that lists the known ones.
    """
    _check_names(names)
    times = pd.DatetimeIndex(times)
    columns: list[np.ndarray] = []
    labels: list[str] = []
    for name in names:
        value, period = _PARTS[name](times)
        angle = 2 * np.pi * np.asarray(value, dtype=np.float64) / np.asarray(period, np.float64)
        columns += [np.sin(angle), np.cos(angle)]
        labels += [f"{name}_sin", f"{name}_cos"]
    if not columns:
        return np.empty((len(times), 0), dtype=np.float64), labels
    return np.column_stack(columns), labels


def _check_names(names: Sequence[str]) -> None:
    if isinstance(names, str):
        raise ValueError(f"expected a list of calendar features, found the text {names!r}")
    unknown = [n for n in names if n not in _PARTS]
    if unknown:
        near = difflib.get_close_matches(str(unknown[0]), CALENDAR_FEATURES, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ValueError(
            f"expected a calendar feature, found {unknown[0]!r}; {hint}"
            f"known: {', '.join(CALENDAR_FEATURES)}"
        )
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise ValueError(f"expected each calendar feature once, found {repeated} repeated")
