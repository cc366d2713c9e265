"""Statistical baselines forecast from the series itself, origin by origin.

A forecast at origin ``o`` sees ``history[: o + 1]`` only and forecasts rows
``o + 1 .. o + horizon``, in the data's original units; every target column
is its own univariate series. Missing values are carried forward (leading
ones dropped), which looks only backwards, so no forecast sees the future;
``mean`` averages the observed values only.

``persistence``, ``seasonal_naive``, ``drift`` and ``mean`` are closed forms.
``ets`` and ``arima`` come from statsmodels, chosen over statsforecast: it
imports in about 0.25 s on top of numpy, pandas and scipy, compiles nothing
at first call, and works with pandas 3 (statsforecast 2.x pins pandas < 3).
statsmodels has no automatic model choice, so a small one is done here,
each candidate scored by AICc:

* ``ets``: additive or damped trend or none, times additive, multiplicative
  (positive series only) or no seasonality; errors are multiplicative with a
  multiplicative season and additive otherwise (R's ``forecast::ets`` leaves
  out additive errors with a multiplicative season as unstable).
* ``arima``: seasonal differencing when the STL seasonal strength exceeds
  0.64, then KPSS tests for ``d`` (as R's ``nsdiffs`` / ``ndiffs``), then the
  four starting models of Hyndman and Khandakar -- (2,d,2)(1,D,1),
  (0,d,0)(0,D,0), (1,d,0)(1,D,0), (0,d,1)(0,D,1) -- with a constant (a
  drift when ``d + D == 1``) unless the series is differenced twice. No
  stepwise search beyond them: its cost is unbounded.

Both refit (choice of model and its parameters) at every origin by default:
walk-forward, as M4 scores. statsmodels can also run a fitted model's filter
over a longer series with its parameters kept, at about a twentieth of the
cost of a refit on the airline series; ``refit_every=k`` does that between
refits (the parameters come from a refit at an earlier origin, so still no
look-ahead). Fits grow with the series (one arima fit on 8,000 hourly values
takes ~18 s): ``window=n`` fits on the latest n values only.

A season is used only when the history holds two full seasons and the period
is at most 24 (as R's ``ets``: a longer one has too many seasonal states to
estimate); otherwise the model is non-seasonal. A history shorter than 6
values, or a fit that fails, falls back to persistence; the count of such
origins is logged as a warning on the ``lstmctl`` logger.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmctl.errors import DataError
from lstmctl.spec.vocabulary import FORECAST_BASELINES

log = logging.getLogger("lstmctl")

# Baselines that use a seasonal period when they have one; seasonal_naive
# cannot do without it, ets and arima go non-seasonal.
SEASONAL = frozenset({"seasonal_naive", "ets", "arima"})
NEEDS_SEASON = frozenset({"seasonal_naive"})
FITTED = frozenset({"ets", "arima"})

# Longest season ets and arima model; fewest values they are fitted on.
MAX_SEASON = 24
MIN_FIT_ROWS = 6


def forecast_baseline(
    name: str,
    history: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    season: int | None,
    *,
    refit_every: int = 1,
    window: int | None = None,
) -> np.ndarray:
    """Forecasts of one baseline at each origin: shape (origins, horizon, targets).

    ``history`` is (rows, targets) in original units, NaN where missing;
    ``origins`` are row indices, each forecasting the ``horizon`` rows after it.
    ``refit_every`` (ets and arima only) refits at every k-th origin in time
    order and reuses those parameters in between; ``window`` (ets and arima
    only) fits on at most that many of the latest values before each origin.
    """
    values = _as_columns(history)
    at = _check_origins(origins, len(values))
    _check_args(name, horizon, season, refit_every, window)
    filled = _carry_forward(values)
    if name == "persistence":
        return _persistence(filled, at, horizon)
    if name == "seasonal_naive":
        assert season is not None  # _check_args
        return _seasonal_naive(filled, at, horizon, season)
    if name == "drift":
        return _drift(filled, at, horizon)
    if name == "mean":
        return _mean(values, at, horizon)
    out = np.empty((len(at), horizon, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, :, j] = _walk_forward(
            name,
            filled[:, j],
            at,
            horizon,
            season,
            refit_every=refit_every,
            window=window,
            column=j,
        )
    return out


# -- checks -------------------------------------------------------------------


def _as_columns(history: np.ndarray) -> np.ndarray:
    values = np.asarray(history, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise DataError(f"expected history of shape (rows, targets), found {values.shape}")
    return values


def _check_origins(origins: np.ndarray, rows: int) -> np.ndarray:
    at = np.asarray(origins)
    if at.ndim != 1 or (at.size and not np.issubdtype(at.dtype, np.integer)):
        raise DataError(
            f"expected a 1-D array of row indices as origins, found {at.dtype} {at.shape}"
        )
    at = at.astype(np.int64)
    if at.size and (at.min() < 0 or at.max() >= rows):
        raise DataError(
            f"expected origins in 0..{rows - 1} (rows of the history), found {at.min()}..{at.max()}"
        )
    return at


def _check_args(
    name: str, horizon: int, season: int | None, refit_every: int, window: int | None
) -> None:
    if name not in FORECAST_BASELINES:
        raise DataError(
            f"expected a baseline among {', '.join(FORECAST_BASELINES)}, found {name!r}"
        )
    if horizon < 1:
        raise DataError(f"expected a horizon of at least 1, found {horizon}")
    if refit_every < 1:
        raise DataError(f"expected refit_every of at least 1, found {refit_every}")
    if window is not None and window < MIN_FIT_ROWS:
        raise DataError(
            f"expected a fitting window of at least {MIN_FIT_ROWS} rows, found {window}"
        )
    if name in NEEDS_SEASON and (season is None or season < 1):
        raise DataError(
            f"{name} needs a seasonal period of at least 1, found {season}; "
            "set evaluate.season (12 for monthly data, 7 for daily, ...)"
        )


def _carry_forward(values: np.ndarray) -> np.ndarray:
    """Each NaN replaced by the last value before it (leading NaNs stay)."""
    rows = np.arange(len(values))[:, None]
    last = np.where(np.isnan(values), 0, rows)
    np.maximum.accumulate(last, axis=0, out=last)
    return values[last, np.arange(values.shape[1])]


# -- closed forms -------------------------------------------------------------


def _persistence(filled: np.ndarray, at: np.ndarray, horizon: int) -> np.ndarray:
    """The last value, for every step."""
    return np.repeat(filled[at][:, None, :], horizon, axis=1)


def _seasonal_naive(filled: np.ndarray, at: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The value one season before each step: y[o + k - m * ceil(k / m)]."""
    k = np.arange(1, horizon + 1)
    back = k - season * np.ceil(k / season).astype(np.int64)  # in -(m-1)..0
    rows = at[:, None] + back[None, :]
    if at.size and rows.min() < 0:
        raise DataError(
            f"seasonal_naive needs a full season ({season} rows) up to each origin, "
            f"found {at.min() + 1} rows up to the first origin"
        )
    return filled[rows]


def _drift(filled: np.ndarray, at: np.ndarray, horizon: int) -> np.ndarray:
    """The last value plus k times the average change since the first value."""
    first_row = np.argmax(~np.isnan(filled), axis=0)  # first observed value per column
    cols = np.arange(filled.shape[1])
    first = filled[first_row, cols]
    span = at[:, None] - first_row[None, :]  # n - 1 values apart
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(span > 0, (filled[at] - first) / np.maximum(span, 1), 0.0)
    k = np.arange(1, horizon + 1)[None, :, None]
    return filled[at][:, None, :] + k * slope[:, None, :]


def _mean(values: np.ndarray, at: np.ndarray, horizon: int) -> np.ndarray:
    """The mean of the values observed up to the origin."""
    seen = ~np.isnan(values)
    total = np.cumsum(np.where(seen, values, 0.0), axis=0)
    count = np.cumsum(seen, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count[at] > 0, total[at] / np.maximum(count[at], 1), np.nan)
    return np.repeat(mean[:, None, :], horizon, axis=1)


# -- ets and arima ------------------------------------------------------------


@dataclass
class _Model:
    """A chosen model: how to build it on a series, and its fitted parameters."""

    build: Callable[[np.ndarray], Any]
    params: np.ndarray
    apply: str  # the model's method that runs fixed parameters: smooth or filter
    start: int  # the row of the series its fit started at


@dataclass
class _Misses:
    """Origins that fell back to persistence, counted for one warning per column."""

    short: int = 0
    failed: int = 0
    first_failed: int = -1


def _walk_forward(
    name: str,
    series: np.ndarray,
    at: np.ndarray,
    horizon: int,
    season: int | None,
    *,
    refit_every: int,
    window: int | None,
    column: int,
) -> np.ndarray:
    """Forecasts of one column at each origin, visited in time order.

    A refit sees the latest ``window`` values (all if None); a reused model
    runs from the row its fit started at, where its initial states belong.
    """
    out = np.empty((len(at), horizon))
    misses = _Misses()
    model: _Model | None = None
    first = int(np.argmax(~np.isnan(series)))  # carried forward: only leading NaNs are left
    for visit, i in enumerate(np.argsort(at, kind="stable")):
        end = int(at[i]) + 1
        start = max(first, end - window) if window else first
        fc = None
        if end - start < MIN_FIT_ROWS or np.isnan(series[start]):
            misses.short += 1
        else:
            if model is None or visit % refit_every == 0:
                model = _choose(name, series[start:end], start, season)
            fc = _forecast(model, series[model.start : end], horizon) if model else None
            if fc is None:
                misses.first_failed = end - 1 if not misses.failed else misses.first_failed
                misses.failed += 1
        out[i] = fc if fc is not None else series[end - 1]
    _report(name, column, misses, len(at))
    return out


def _usable_season(season: int | None, n: int) -> int | None:
    """The season ets and arima model: None when absent, 1, too long, or seen < 2 times."""
    if season is None or season < 2 or season > MAX_SEASON or n < 2 * season:
        return None
    return season


def _report(name: str, column: int, misses: _Misses, total: int) -> None:
    if misses.short:
        log.warning(
            "%s, target %d: fewer than %d values at %d of %d origins; used persistence there",
            name, column, MIN_FIT_ROWS, misses.short, total,
        )  # fmt: skip
    if misses.failed:
        log.warning(
            "%s, target %d: the fit failed at %d of %d origins (first at row %d); "
            "used persistence there",
            name, column, misses.failed, total, misses.first_failed,
        )  # fmt: skip


def _forecast(model: _Model, y: np.ndarray, horizon: int) -> np.ndarray | None:
    """The model with its parameters run over ``y``, forecasting ``horizon`` steps."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = getattr(model.build(y), model.apply)(model.params)
            fc = np.asarray(result.forecast(horizon), dtype=np.float64)
    except Exception:  # any failure of the library falls back
        return None
    return fc if fc.shape == (horizon,) and np.isfinite(fc).all() else None


def _choose(name: str, y: np.ndarray, start: int, season: int | None) -> _Model | None:
    """The candidate with the lowest AICc fitted on ``y`` (from row ``start``), or None."""
    season = _usable_season(season, len(y))
    candidates = _ets_candidates(y, season) if name == "ets" else _arima_candidates(y, season)
    best: tuple[float, _Model] | None = None
    for build, apply in candidates:
        result = _fit(build, y)
        if result is None:
            continue
        aicc = float(result.aicc) if np.isfinite(result.aicc) else np.inf
        if best is None or aicc < best[0]:
            best = (aicc, _Model(build, np.asarray(result.params), apply, start))
    return best[1] if best else None


def _fit(build: Callable[[np.ndarray], Any], y: np.ndarray) -> Any | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = build(y).fit(disp=False)
    except Exception:  # a candidate that cannot be fitted is skipped
        return None
    return result if np.isfinite(np.asarray(result.params)).all() else None


def _ets_candidates(
    y: np.ndarray, season: int | None
) -> list[tuple[Callable[[np.ndarray], Any], str]]:
    """ETS forms to try, simplest first (see the module docstring)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonals: list[str | None] = [None]
    if season is not None:
        seasonals += ["add", "mul"] if bool((y > 0).all()) else ["add"]
    forms = []
    for seasonal in seasonals:
        for trend, damped in ((None, False), ("add", False), ("add", True)):
            kwargs = {
                "error": "mul" if seasonal == "mul" else "add",
                "trend": trend,
                "damped_trend": damped,
                "seasonal": seasonal,
                "seasonal_periods": season if seasonal else None,
            }
            forms.append((_builder(ETSModel, kwargs), "smooth"))
    return forms


def _arima_candidates(
    y: np.ndarray, season: int | None
) -> list[tuple[Callable[[np.ndarray], Any], str]]:
    """The four starting models of Hyndman and Khandakar, at the chosen differencing."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    big_d = _seasonal_differences(y, season) if season is not None else 0
    d = _differences(_season_diff(y, season) if big_d else y)
    forms = []
    for (p, q), (sp, sq) in (
        ((2, 2), (1, 1)),
        ((0, 0), (0, 0)),
        ((1, 0), (1, 0)),
        ((0, 1), (0, 1)),
    ):
        kwargs: dict[str, Any] = {
            "order": (p, d, q),
            # SARIMAX's constant lives in the differenced model: a drift when d + D == 1.
            "trend": "c" if d + big_d < 2 else "n",
        }
        if season is not None:
            kwargs["seasonal_order"] = (sp, big_d, sq, season)
        forms.append((_builder(SARIMAX, kwargs), "filter"))
    return forms


def _builder(cls: Any, kwargs: dict[str, Any]) -> Callable[[np.ndarray], Any]:
    return lambda y: cls(y, **kwargs)


def _season_diff(y: np.ndarray, season: int | None) -> np.ndarray:
    assert season is not None
    return y[season:] - y[:-season]


def _seasonal_differences(y: np.ndarray, season: int) -> int:
    """1 when STL's seasonal strength exceeds 0.64 (R's nsdiffs, test "seas"), else 0."""
    from statsmodels.tsa.seasonal import STL

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parts = STL(y, period=season, robust=False).fit()
    except Exception:  # no decomposition: no seasonal differencing
        return 0
    remainder, seasonal = np.asarray(parts.resid), np.asarray(parts.seasonal)
    spread = np.var(remainder + seasonal)
    strength = 0.0 if spread == 0 else max(0.0, 1.0 - np.var(remainder) / spread)
    return int(strength > 0.64)


def _differences(y: np.ndarray, alpha: float = 0.05) -> int:
    """How many differences (0..2) make ``y`` pass the KPSS level-stationarity test."""
    from statsmodels.tsa.stattools import kpss

    d = 0
    while d < 2 and len(y) > 3 and np.ptp(y) > 0:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # p beyond the table's range
                p_value = kpss(y, regression="c", nlags="auto")[1]
        except Exception:  # no test: difference once, as for most levels
            return max(d, 1)
        if p_value >= alpha:
            break
        y, d = np.diff(y), d + 1
    return d
