"""How good an ensemble's intervals and distribution are: probabilistic scores.

Coverage and mean width of an interval, its Winkler (interval) score, the
pinball loss at its two quantiles, and the continuous ranked probability score
(CRPS) of the members as a forecast distribution: all in the data's original
units, averaged over every window, step and target (missing values skipped).
Numpy only, like :mod:`lstmctl.evaluation.intervals`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from lstmctl.errors import RunError
from lstmctl.evaluation.intervals import Conformal, check_pair, level_key
from lstmctl.evaluation.member_stats import finite_count, members_of

__all__ = [
    "coverage",
    "coverage_per_step",
    "crps_ensemble",
    "interval_scores",
    "mean_width",
    "pinball",
    "winkler",
]


def _floats(*arrays: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The arrays as floats of one shape, and where all of them are finite."""
    found = [np.asarray(a, dtype=float) for a in arrays]
    shapes = {a.shape for a in found}
    if len(shapes) > 1:
        raise RunError(f"expected arrays of one shape, found {sorted(shapes)}", "interval scores")
    ok = np.logical_and.reduce([np.isfinite(a) for a in found])
    return found, ok


def _mean(values: np.ndarray, ok: np.ndarray) -> float:
    """Mean of ``values`` where ``ok``; NaN when nothing is."""
    return float(values[ok].mean()) if ok.any() else float("nan")


def coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of actual values inside ``[lo, hi]`` (missing values skipped)."""
    (a, low, high), ok = _floats(actual, lo, hi)
    return _mean(((low <= a) & (a <= high)).astype(float), ok)


def coverage_per_step(
    actual: np.ndarray, lo: np.ndarray, hi: np.ndarray, step_axis: int = 1
) -> list[float]:
    """Coverage of each horizon step (axis 1 of ``(n, horizon, n_targets)``), as a list."""
    (a, low, high), ok = _floats(actual, lo, hi)
    inside = ((low <= a) & (a <= high)).astype(float)
    inside, ok = np.moveaxis(inside, step_axis, 0), np.moveaxis(ok, step_axis, 0)
    return [_mean(inside[k], ok[k]) for k in range(inside.shape[0])]


def mean_width(lo: np.ndarray, hi: np.ndarray) -> float:
    """Mean of ``hi - lo``: how much the intervals commit to, in original units."""
    (low, high), ok = _floats(lo, hi)
    return _mean(high - low, ok)


def winkler(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float) -> float:
    """Mean interval (Winkler) score: the width, plus 2/alpha times any miss; lower is better.

    alpha = 1 - level. It rewards narrow intervals and charges for misses, so an
    interval cannot score well by being too wide or too narrow.
    """
    (a, low, high), ok = _floats(actual, lo, hi)
    alpha = 1.0 - level
    below = np.maximum(low - a, 0.0)
    above = np.maximum(a - high, 0.0)
    return _mean(high - low + (2.0 / alpha) * (below + above), ok)


def pinball(actual: np.ndarray, q_pred: np.ndarray, quantile: float) -> float:
    """Mean pinball (quantile) loss of ``q_pred`` as the ``quantile`` quantile; lower is better."""
    (a, q), ok = _floats(actual, q_pred)
    diff = a - q
    return _mean(np.maximum(quantile * diff, (quantile - 1.0) * diff), ok)


def _crps_points(members: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """CRPS at every point: mean|X - y| - 0.5 mean|X - X'| over the finite members.

    The pair term uses sorted members: sum over pairs |x_i - x_j| equals
    2 * sum_i (2i - m - 1) x_(i) for the m finite members sorted ascending
    (i from 1), so each point costs O(R log R).
    """
    m = finite_count(members)
    to_actual = np.where(np.isnan(members), 0.0, np.abs(members - actual)).sum(axis=0)
    ordered = np.sort(members, axis=0)  # NaN sorts last
    rank = np.arange(1, members.shape[0] + 1).reshape((-1,) + (1,) * actual.ndim)
    weight = np.where(rank <= m, 2 * rank - m - 1, 0)
    pairs = 2.0 * (weight * np.where(np.isnan(ordered), 0.0, ordered)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        crps = to_actual / m - 0.5 * pairs / m.astype(float) ** 2
    return np.where(m > 0, crps, np.nan)


def crps_ensemble(member_forecasts: np.ndarray, actual: np.ndarray) -> float:
    """Mean continuous ranked probability score of the members as a forecast distribution.

    In original units, lower is better; with one member it is the absolute
    error. The members' empirical distribution is scored as it is (pairs
    term over m^2, not m(m - 1)), the form that equals the MAE for one member.
    """
    members = members_of(member_forecasts)
    a = check_pair(members, actual, "crps")
    crps = _crps_points(members, a)
    return _mean(crps, np.isfinite(crps) & np.isfinite(a))


def interval_scores(
    actual: np.ndarray,
    member_forecasts: np.ndarray,
    conformal: Conformal,
    levels: Sequence[float] | None = None,
    series: Sequence[Hashable] | None = None,
) -> dict[str, dict[str, float]]:
    """Coverage, width, Winkler and both pinball losses of each level's interval.

    Keyed by :func:`level_key` (``"0.8"``); ``levels`` defaults to every level
    the calibrator was fitted on. ``pinball_lo`` scores ``lo`` as the alpha/2
    quantile and ``pinball_hi`` scores ``hi`` as the 1 - alpha/2 quantile.
    ``series``: each window's series id, for a calibrator fitted per series.
    """
    members = members_of(member_forecasts)
    a = check_pair(members, actual, "interval scores")
    result: dict[str, dict[str, float]] = {}
    for level in conformal.levels_ if levels is None else levels:
        lo, hi = conformal.interval(members, level, series)
        alpha = 1.0 - level
        result[level_key(level)] = {
            "coverage": coverage(a, lo, hi),
            "width": mean_width(lo, hi),
            "winkler": winkler(a, lo, hi, level),
            "pinball_lo": pinball(a, lo, alpha / 2.0),
            "pinball_hi": pinball(a, hi, 1.0 - alpha / 2.0),
        }
    return result
