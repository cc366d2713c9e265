"""Scale-free forecast metrics: MASE, RMSSE (M4/M5) and sMAPE.

MASE and RMSSE divide a forecast's errors by those of the seasonal naive
forecast on the training part (``insample``), so 1.0 means "as good as
repeating last season in sample" whatever the units, and series of different
scales can be averaged. Each target column gets its own scale; a column
whose training part never changes over a season has no scale, and its score
is NaN rather than infinite. The overall score is the mean over the columns
that have a scale; a NaN forecast makes it NaN, as in the other metrics.

``actual`` and ``predicted`` are (samples, horizon, targets) -- any shape
whose last axis is the targets works -- and ``insample`` is (rows, targets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lstmctl.errors import RunError


def seasonal_scale(
    insample: np.ndarray, season: int | None, *, squared: bool = False
) -> np.ndarray:
    """Per target: mean |y_t - y_{t-m}| (or its square) over the training part.

    ``season`` None or below 1 means 1 (the naive forecast, as for series
    without a season). NaN where the column has no pair of values a season
    apart, or never changes.
    """
    values = _columns(insample)
    m = season if season is not None and season >= 1 else 1
    diffs = values[m:] - values[:-m] if len(values) > m else np.full((0, values.shape[1]), np.nan)
    errors = diffs**2 if squared else np.abs(diffs)
    seen = ~np.isnan(errors)
    count = seen.sum(axis=0)
    total = np.where(seen, errors, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return np.where(scale > 0, scale, np.nan)


def mase_by_target(
    actual: np.ndarray, predicted: np.ndarray, insample: np.ndarray, season: int | None
) -> np.ndarray:
    """MASE of each target column: its mean absolute error over its in-sample scale."""
    a, p = _pair(actual, predicted, insample)
    return np.mean(np.abs(p - a), axis=0) / seasonal_scale(insample, season)


def rmsse_by_target(
    actual: np.ndarray, predicted: np.ndarray, insample: np.ndarray, season: int | None
) -> np.ndarray:
    """RMSSE of each target column: sqrt of its mean squared error over its squared scale."""
    a, p = _pair(actual, predicted, insample)
    mse = np.mean((p - a) ** 2, axis=0)
    return np.sqrt(mse / seasonal_scale(insample, season, squared=True))


def mase(
    actual: np.ndarray, predicted: np.ndarray, insample: np.ndarray, season: int | None
) -> float:
    """Mean absolute scaled error (M4): MAE over the in-sample seasonal naive MAE."""
    return _mean_of_scaled(mase_by_target(actual, predicted, insample, season), insample, season)


def rmsse(
    actual: np.ndarray, predicted: np.ndarray, insample: np.ndarray, season: int | None
) -> float:
    """Root mean squared scaled error (M5): RMSE over the in-sample seasonal naive RMSE."""
    return _mean_of_scaled(rmsse_by_target(actual, predicted, insample, season), insample, season)


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE (M4), in percent from 0 to 200; a 0-over-0 term counts as 0."""
    a, p = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    if a.shape != p.shape:
        raise RunError(f"predictions have shape {p.shape} but the targets {a.shape}", "smape")
    denominator = np.abs(a) + np.abs(p)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(denominator > 0, 2.0 * np.abs(p - a) / denominator, 0.0)
    return float(100.0 * np.mean(terms)) if terms.size else float("nan")


def per_step(
    metric: Callable[..., float], actual: np.ndarray, predicted: np.ndarray, *args: Any
) -> list[float]:
    """``metric`` at each horizon step (axis 1), with any further arguments passed on."""
    a, p = np.asarray(actual), np.asarray(predicted)
    if a.ndim < 2:
        raise RunError(
            f"expected (samples, horizon, ...) arrays, found shape {a.shape}", "per_step"
        )
    return [float(metric(a[:, k : k + 1], p[:, k : k + 1], *args)) for k in range(a.shape[1])]


def _columns(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return v[:, None] if v.ndim == 1 else v


def _pair(
    actual: np.ndarray, predicted: np.ndarray, insample: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``actual`` and ``predicted`` as (anything, targets), checked against each other."""
    a, p = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    targets = _columns(insample).shape[1]
    if a.shape != p.shape:
        raise RunError(f"predictions have shape {p.shape} but the targets {a.shape}", "evaluate")
    if a.ndim == 0 or a.shape[-1] != targets:
        raise RunError(
            f"expected forecasts of {targets} targets (the in-sample columns), "
            f"found shape {a.shape}",
            "evaluate",
        )
    return a.reshape(-1, targets), p.reshape(-1, targets)


def _mean_of_scaled(by_target: np.ndarray, insample: np.ndarray, season: int | None) -> float:
    """Mean over the targets that have a scale (NaN when none has)."""
    has_scale = np.isfinite(seasonal_scale(insample, season))
    return float(by_target[has_scale].mean()) if has_scale.any() else float("nan")
