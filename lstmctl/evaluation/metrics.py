"""Forecast metrics, computed in the data's original units.

Each takes ``actual`` and ``predicted`` arrays of the same shape (any rank;
every element counts once) and returns a float.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lstmctl.errors import RunError
from lstmctl.spec.vocabulary import CLASSIFICATION_METRICS, LOWER_IS_BETTER

__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "METRICS",
    "SCALED",
    "Scale",
    "describe",
    "pointwise_loss",
    "score",
]


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(predicted) - np.asarray(actual))))


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error, in percent (zero actuals skipped)."""
    a, p = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    nonzero = a != 0
    if not nonzero.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs((p[nonzero] - a[nonzero]) / a[nonzero])))


def accuracy(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Share of predictions equal to the actual class label."""
    return float(np.mean(np.asarray(actual) == np.asarray(predicted)))


def sequence_accuracy(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Share of samples whose whole output sequence is right (every label of it)."""
    a, p = np.asarray(actual), np.asarray(predicted)
    if a.ndim < 2:
        return accuracy(a, p)
    return float(np.mean(np.all((a == p).reshape(len(a), -1), axis=1)))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "rmse": rmse,
    "mae": mae,
    "mape": mape,
    "accuracy": accuracy,
    "sequence_accuracy": sequence_accuracy,
}


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric mean absolute percentage error, 0 to 200 (M4's definition)."""
    from lstmctl.evaluation.scaled import smape as _smape

    return _smape(actual, predicted)


METRICS["smape"] = smape


@dataclass(frozen=True)
class Scale:
    """What MASE and RMSSE divide by: the training part's in-sample seasonal naive error.

    ``insample`` is the training part in the data's units, ``(rows, n_targets)``;
    ``season`` the seasonal period (1: the naive forecast's error).
    """

    insample: np.ndarray
    season: int


def _mase(actual: np.ndarray, predicted: np.ndarray, scale: Scale) -> float:
    """Mean absolute scaled error: MAE over the in-sample seasonal naive MAE (M4)."""
    from lstmctl.evaluation.scaled import mase

    return mase(actual, predicted, scale.insample, scale.season)


def _rmsse(actual: np.ndarray, predicted: np.ndarray, scale: Scale) -> float:
    """Root mean squared scaled error: RMSE over the in-sample seasonal naive RMSE (M5)."""
    from lstmctl.evaluation.scaled import rmsse

    return rmsse(actual, predicted, scale.insample, scale.season)


SCALED: dict[str, Callable[[np.ndarray, np.ndarray, Scale], float]] = {
    "mase": _mase,
    "rmsse": _rmsse,
}


def describe() -> dict[str, str]:
    """Metric names and their one-line descriptions."""
    every = {**METRICS, **SCALED}
    return {name: (fn.__doc__ or "").strip().splitlines()[0] for name, fn in every.items()}


def score(
    names: Sequence[str],
    actual: np.ndarray,
    predicted: np.ndarray,
    scale: Scale | None = None,
) -> dict[str, float]:
    """Every named metric on one set of forecasts (``scale``: for MASE and RMSSE)."""
    if actual.shape != predicted.shape:
        raise RunError(
            f"predictions have shape {predicted.shape} but the targets {actual.shape}",
            where="evaluate",
        )
    out = {}
    for name in names:
        if name in SCALED:
            out[name] = SCALED[name](actual, predicted, scale) if scale else float("nan")
        else:
            out[name] = METRICS[name](actual, predicted)
    return out


# What a forecast loses at each target under a metric: the loss series the
# Diebold-Mariano test compares (squared errors for the root-mean-square metrics,
# absolute errors for the others).
def pointwise_loss(metric: str, actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-window loss ``(n_windows,)``: the metric's pointwise loss averaged over steps."""
    e = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    loss = e**2 if metric in ("rmse", "rmsse") else np.abs(e)
    return loss.reshape(len(loss), -1).mean(axis=1)
