"""ETS and ARIMA baselines from statsmodels, chosen and refitted walk-forward.

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

log = logging.getLogger("lstmctl")

# Longest season ets and arima model; fewest values they are fitted on.
MAX_SEASON = 24
MIN_FIT_ROWS = 6


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


def walk_forward(
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
