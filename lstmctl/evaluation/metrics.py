"""Forecast metrics, computed in the data's original units.

Each takes ``actual`` and ``predicted`` arrays of the same shape (any rank;
every element counts once) and returns a float.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lstmctl.errors import RunError
from lstmctl.spec.vocabulary import CLASSIFICATION_METRICS, LOWER_IS_BETTER

__all__ = ["CLASSIFICATION_METRICS", "LOWER_IS_BETTER", "METRICS", "describe", "score"]


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


def describe() -> dict[str, str]:
    """Metric names and their one-line descriptions."""
    return {name: (fn.__doc__ or "").strip().splitlines()[0] for name, fn in METRICS.items()}


def score(names: Sequence[str], actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Every named metric on one set of forecasts."""
    if actual.shape != predicted.shape:
        raise RunError(
            f"predictions have shape {predicted.shape} but the targets {actual.shape}",
            where="evaluate",
        )
    return {name: METRICS[name](actual, predicted) for name in names}
