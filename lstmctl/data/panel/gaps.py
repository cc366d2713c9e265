"""Time steps within each series: a skipped step is filled per ``data.missing``, or refused.

A model reads a window of ``lookback`` rows as ``lookback`` equal steps of time;
a series that skips a month would silently squeeze two months into one step.
So, before missing values are handled, the times are put on a clock: counted in
months when every time of the panel falls on one day of the month (or on month
ends) at one time of day, in business days for daily dates that skip every
weekend, in seconds for other dates, and in the time column's own units when it
holds numbers. Then (the rule, as :func:`~lstmctl.data.calendar.infer_season`
reads one series, gaps tolerated):

* **A series' step** is the one nine in ten of its steps or more take, every
  other step a whole multiple of it; a series with no such step (dates on the
  1st, 8th, 15th and 22nd of each month) has no gaps to speak of and is left
  as it is, its times only ordering its rows.
* **The panel's frequency is known** when every series of three steps or more
  mostly keeps the same step and the steps of all series pooled have it as
  their usual step.
* **A gap** is a step that is a whole multiple k > 1 of the step (a step of 3
  months in a monthly panel: 2 months missing). When the panel's frequency is
  known and ``data.missing`` is a filling strategy (``interpolate``,
  ``ffill``, ``mask``), the k - 1 missing steps are inserted as rows with
  empty values, which that strategy then fills (or masks) like any other
  missing value; how many rows each series gained is logged. With
  ``missing: drop``, or when the series do not share one frequency, a gap is a
  DataError naming the series, the gap, the two times around it and their
  lines: dropping rows is how holes are made and cannot close them, and
  without one frequency there is nothing to fill by.

Inserted rows take the series' static values, and index labels -1, -2, ...
(they have no line in the file); their targets count as not observed, so
scoring never takes them for data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from lstmctl.data.panel.table import SeriesRows
from lstmctl.errors import DataError

if TYPE_CHECKING:
    from lstmctl.spec import DataSpec

__all__ = ["fill_gaps"]

log = logging.getLogger("lstmctl")

_FILLING = ("interpolate", "ffill", "mask")
_NS = 1_000_000_000
# Seconds-based steps are named in the largest unit that divides them.
_SECONDS = (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


@dataclass(frozen=True)
class _Clock:
    """How times become evenly spaced positions: the unit, and the panel's step in it."""

    unit: str  # "month", "business day", "second" or "step" (a numeric time column)
    step: float
    # months: the one day of the month (0 for month ends) and the time of day
    day: int = 0
    time_of_day: pd.Timedelta = pd.Timedelta(0)

    def positions(self, times: pd.Series) -> np.ndarray:
        """Each time's position on the clock (a step apart when nothing is missing)."""
        if self.unit == "step":
            return times.to_numpy(dtype=np.float64)
        t = pd.DatetimeIndex(times)
        if self.unit == "month":
            return (t.year.to_numpy() * 12 + t.month.to_numpy() - 1).astype(np.float64)
        if self.unit == "business day":
            days = t.normalize().to_numpy().astype("datetime64[D]")
            return np.busday_count(np.datetime64("1970-01-01"), days).astype(np.float64)
        return (t.as_unit("ns").asi8 // _NS).astype(np.float64)

    def times(self, positions: np.ndarray) -> pd.Series:
        """The times at ``positions`` (the inverse of :meth:`positions`)."""
        if self.unit == "step":
            return pd.Series(positions, dtype=np.float64)
        if self.unit == "month":
            m = positions.astype(np.int64)
            first = pd.to_datetime({"year": m // 12, "month": m % 12 + 1, "day": 1})
            last = first.dt.days_in_month
            day = last if self.day == 0 else np.minimum(self.day, last)
            return first + pd.to_timedelta(day - 1, unit="D") + self.time_of_day
        if self.unit == "business day":
            days = np.busday_offset(np.datetime64("1970-01-01"), positions.astype(np.int64))
            return pd.Series(pd.to_datetime(days))
        return pd.Series(pd.to_datetime(positions.astype(np.int64) * _NS))

    def span(self, steps: float) -> str:
        """``steps`` positions in words: "3 months", "2 days", "1.5"."""
        if self.unit == "step":
            return f"{steps:g}"
        name, size = self.unit, 1
        if self.unit == "second":
            name, size = next((n, s) for n, s in _SECONDS if steps % s == 0 and self.step % s == 0)
        n = steps / size
        return f"{n:g} {name}" + ("" if n == 1 else "s")

    def every(self) -> str:
        """The panel's step as "one row per ...": "per month", "per 2 hours", "every 0.5"."""
        if self.unit == "step":
            return f"one row every {self.step:g}"
        words = self.span(self.step)
        return f"one row per {words[2:] if words.startswith('1 ') else words}"


def fill_gaps(series: Sequence[SeriesRows], data: DataSpec) -> list[SeriesRows]:
    """Every series with its skipped time steps inserted as empty rows (``data.missing``
    fills them), or one DataError naming the series and the gap (see the module)."""
    time_col = data.time if isinstance(data.time, str) else ", ".join(data.time or [])
    where = f"{str(data.path)}: column {time_col}"
    clock = _clock(series)
    if clock is None:
        return list(series)
    steps = [np.diff(clock.positions(rows.times)) for rows in series]
    panel, why = _panel_step(series, steps, clock)
    out = []
    for rows, diffs in zip(series, steps, strict=True):
        own = panel if panel is not None else _usual(diffs)
        whole = np.rint(diffs / own) if own is not None else np.ones(0)
        gaps = np.flatnonzero(whole > 1)
        if not gaps.size or own is None:
            out.append(rows)
            continue
        step = replace(clock, step=own)
        if panel is None or data.missing not in _FILLING:
            raise DataError(_gap_message(rows, step, whole, why), where=where)
        out.append(_insert(rows, clock.positions(rows.times), whole, step, data.static))
    other = _other_frequency(series, steps, clock)
    if other:
        raise DataError(other, where=where)
    return out


def _clock(series: Sequence[SeriesRows]) -> _Clock | None:
    """The panel's unit (step 1); None when no series has two rows to measure."""
    times = [s.times for s in series if len(s.times) > 1]
    if not times:
        return None
    stamps = pd.concat(times)
    if not pd.api.types.is_datetime64_any_dtype(stamps):
        return _Clock("step", 1.0)
    t = pd.DatetimeIndex(stamps)
    time_of_day = t - t.normalize()
    if len(time_of_day.unique()) == 1:
        if t.is_month_end.all():
            return _Clock("month", 1.0, 0, time_of_day[0])
        if t.day.nunique() == 1:
            return _Clock("month", 1.0, int(t.day[0]), time_of_day[0])
    seconds = _Clock("second", 1.0)
    pooled = np.concatenate([np.diff(seconds.positions(s)) for s in times])
    weekdays = (t.dayofweek < 5).all() and (time_of_day == pd.Timedelta(0)).all()
    if weekdays and _mode(pooled) == 86400:  # daily dates that skip every weekend
        return _Clock("business day", 1.0)
    return seconds


def _mode(steps: np.ndarray) -> float:
    """The step most often taken (the smallest on a tie)."""
    values, counts = np.unique(steps, return_counts=True)
    return float(values[np.argmax(counts)])


def _usual(steps: np.ndarray) -> float | None:
    """The step the times keep, gaps aside: nine steps in ten or more are that step and
    every other step is a whole multiple of it (as :func:`~lstmctl.data.calendar.infer_season`
    reads one series); None for fewer than two steps or times with no such step."""
    if len(steps) < 2:
        return None
    step = _mode(steps)
    ratio = steps / step if step > 0 else steps
    if step <= 0 or (ratio == 1).sum() < 0.9 * len(steps):
        return None
    if not np.isclose(ratio, np.rint(ratio), rtol=0, atol=1e-6).all():
        return None
    return step


def _panel_step(
    series: Sequence[SeriesRows], steps: Sequence[np.ndarray], clock: _Clock
) -> tuple[float | None, str]:
    """The panel's frequency (all series' steps pooled), or None and why there is none:
    a series (of three steps or more) that mostly keeps another step, or no usual step."""
    modes = [(rows.id, _mode(d)) for rows, d in zip(series, steps, strict=True) if len(d) >= 3]
    common = _mode(np.array([m for _, m in modes])) if modes else None
    for sid, m in modes:
        if m != common:
            return None, f"series {sid!r} keeps {replace(clock, step=m).every()}"
    step = _usual(np.concatenate(steps))
    if step is None:
        return None, "the series' times are not evenly spaced"
    return step, ""


def _other_frequency(
    series: Sequence[SeriesRows], steps: Sequence[np.ndarray], clock: _Clock
) -> str:
    """Why a series that keeps a step of its own (gaps aside) other than the one most
    series keep cannot be in the panel ("" when none does): its windows would read
    a week as a day. Series with no usual step (uneven times) are not judged here."""
    modes = [(rows, _mode(d)) for rows, d in zip(series, steps, strict=True) if len(d) >= 3]
    if len(modes) < 2:
        return ""
    common = _mode(np.array([m for _, m in modes]))
    keeping = sum(m == common for _, m in modes)
    for (rows, m), d in zip(modes, [d for d in steps if len(d) >= 3], strict=True):
        own = _usual(d)
        if m != common and own is not None:
            return (
                f"series {rows.id!r} keeps {replace(clock, step=own).every()}, but the "
                f"panel {replace(clock, step=common).every()} ({keeping} of its "
                f"{len(modes)} series): expected every series at the panel's frequency, "
                f"found {rows.labels[0]!r}, {rows.labels[1]!r}, ... in series {rows.id!r}; "
                "resample it to the panel's step or give it its own file"
            )
    return ""


def _between(rows: SeriesRows, i: int) -> str:
    """The i-th step's two times and their lines: "'2021-03' and '2021-06' (lines 14 and 15)"."""
    lines = rows.frame.index
    unit = "row" if lines.name == "row" else "line"
    return (
        f"{rows.labels[i]!r} and {rows.labels[i + 1]!r} "
        f"({unit}s {int(lines[i])} and {int(lines[i + 1])})"
    )


def _gap_message(rows: SeriesRows, clock: _Clock, whole: np.ndarray, why: str) -> str:
    """The series' first gap: where, how wide, how many steps missing; and what to do."""
    gaps = np.flatnonzero(whole > 1)
    i, width = int(gaps[0]), int(whole[gaps[0]])
    missing = f"{width - 1} rows" if clock.unit == "step" else clock.span((width - 1) * clock.step)
    more = f"; {len(gaps) - 1} more gaps in this series" if len(gaps) > 1 else ""
    fix = ", or set data.missing to interpolate, ffill or mask to fill them"
    if why:  # no one frequency for the panel: nothing to fill by
        fix = f"; data.missing fills gaps only when all series keep one frequency, and {why}"
    return (
        f"series {rows.id!r}: expected {clock.every()}, found a gap of "
        f"{clock.span(width * clock.step)} between {_between(rows, i)}: {missing} missing{more}; "
        f"add the missing rows to the file{fix}"
    )


def _insert(
    rows: SeriesRows, pos: np.ndarray, whole: np.ndarray, clock: _Clock, static: list[str]
) -> SeriesRows:
    """``rows`` with an empty row at every missing step (static columns kept), in time order."""
    new = np.concatenate(
        [pos[i] + clock.step * np.arange(1, int(k)) for i, k in enumerate(whole) if k > 1]
    )
    empty = pd.DataFrame(
        np.nan,
        index=pd.Index(-np.arange(1, len(new) + 1), name=rows.frame.index.name),
        columns=rows.frame.columns,
    ).astype(rows.frame.dtypes.to_dict())
    for col in static:
        empty[col] = rows.frame[col].iloc[0]
    times = _in_zone(clock.times(new), rows.times, clock.unit)
    times.index = empty.index
    order = np.argsort(np.concatenate([pos, new]), kind="stable")
    frame = pd.concat([rows.frame, empty]).iloc[order]
    labels = [*rows.labels, *_labels(times, rows.labels)]
    log.warning(
        "warning: series %r: %d missing %s inserted as empty rows (data.missing fills them)",
        rows.id,
        len(new),
        "step" if len(new) == 1 else "steps",
    )
    return SeriesRows(
        id=rows.id,
        frame=frame,
        times=pd.concat([rows.times, times.astype(rows.times.dtype)]).iloc[order],
        labels=[labels[j] for j in order],
    )


def _in_zone(times: pd.Series, like: pd.Series, unit: str) -> pd.Series:
    """Inserted ``times`` in the time zone of the series' own (``like``), when it has one:
    seconds count from the UTC epoch, months and business days are wall-clock dates."""
    tz = getattr(like.dtype, "tz", None)
    if tz is None:
        return times
    if unit == "second":
        return times.dt.tz_localize("UTC").dt.tz_convert(tz)
    return times.dt.tz_localize(tz)


def _labels(times: pd.Series, like: Sequence[str]) -> list[str]:
    """Labels for inserted times, written as the file writes its own (``like``)."""
    if not pd.api.types.is_datetime64_any_dtype(times):
        whole = all(float(v).is_integer() for v in times)
        return [str(int(v)) if whole else f"{v:g}" for v in times]
    fmt = guess_datetime_format(str(like[0]))
    if fmt is None:
        fmt = "%Y-%m-%d" if (times == times.dt.normalize()).all() else "%Y-%m-%d %H:%M:%S"
    return [str(v) for v in times.dt.strftime(fmt)]
