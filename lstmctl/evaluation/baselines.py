"""Statistical baselines forecast from the series itself, origin by origin.

A forecast at origin ``o`` sees ``history[: o + 1]`` only and forecasts rows
``o + 1 .. o + horizon``, in the data's original units; every target column
is its own univariate series. Missing values are carried forward (leading
ones dropped), which looks only backwards, so no forecast sees the future;
``mean`` averages the observed values only.

``persistence``, ``seasonal_naive``, ``drift`` and ``mean`` are closed forms.
``ets`` and ``arima`` come from statsmodels, chosen by AICc and refitted
walk-forward: :mod:`lstmctl.evaluation.fitted_baselines`.
"""

from __future__ import annotations

import logging

import numpy as np

from lstmctl.errors import DataError
from lstmctl.evaluation.fitted_baselines import MIN_FIT_ROWS, walk_forward
from lstmctl.spec.vocabulary import FORECAST_BASELINES

log = logging.getLogger("lstmctl")

# Baselines that use a seasonal period when they have one; seasonal_naive
# cannot do without it, ets and arima go non-seasonal.
SEASONAL = frozenset({"seasonal_naive", "ets", "arima"})
NEEDS_SEASON = frozenset({"seasonal_naive"})
FITTED = frozenset({"ets", "arima"})


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
        out[:, :, j] = walk_forward(
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
