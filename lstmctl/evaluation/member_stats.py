"""The members of an ensemble: their forecasts as floats, the point forecast, the spread.

A run's repeats (or a saved model's members), stacked as ``(R, n, horizon,
n_targets)`` in the data's original units, are an ensemble. A failed repeat
shows up as a member whose forecasts are NaN (or infinite): every function
here treats non-finite member values as missing and uses the members that
remain, point by point. Calibrated intervals around the point forecast:
:mod:`lstmctl.evaluation.intervals`.

Only numpy is imported: ``predict`` loads this module and must start fast.
"""

from __future__ import annotations

import numpy as np

from lstmctl.errors import RunError

__all__ = ["ensemble", "ensemble_spread", "finite_count", "members_of"]


def members_of(member_forecasts: np.ndarray) -> np.ndarray:
    """Member forecasts as floats with every non-finite value (a failed repeat) as NaN."""
    x = np.asarray(member_forecasts, dtype=float)
    if x.ndim < 1 or x.shape[0] == 0:
        raise RunError(f"expected forecasts of R >= 1 members, found shape {x.shape}", "ensemble")
    x = np.where(np.isfinite(x), x, np.nan)
    if np.isnan(x).all():
        raise RunError(f"none of the {x.shape[0]} repeats gave a finite forecast", "ensemble")
    return x


def finite_count(x: np.ndarray) -> np.ndarray:
    """How many members are finite at each point."""
    return np.isfinite(x).sum(axis=0)


def ensemble(member_forecasts: np.ndarray) -> np.ndarray:
    """The ensemble's point forecast: the mean over the repeats (axis 0), NaN members skipped.

    The mean, not the median: the mean of the members minimises the squared
    error, which is what RMSE (the runs' main score) measures, and averaging
    cancels part of each member's seed-driven error. The median only pays off
    when one member diverges to a wild but finite value; a repeat that fails
    outright gives NaN and is skipped here, point by point, so the mean stays
    usable. A point where every member is missing is NaN.

    ``(R, n, horizon, n_targets)`` -> ``(n, horizon, n_targets)`` (any trailing shape).
    """
    x = members_of(member_forecasts)
    count = finite_count(x)
    # Averaged as offsets from one member, so identical members give that member
    # exactly (a plain sum / R can be off in the last bit), and their spread is 0.
    ref = np.fmax.reduce(x, axis=0)
    offsets = np.where(np.isnan(x), 0.0, x - ref).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, ref + offsets / np.maximum(count, 1), np.nan)


def ensemble_spread(member_forecasts: np.ndarray) -> np.ndarray:
    """The members' sample standard deviation (ddof=1) over the repeats, NaN members skipped.

    0 where only one member is finite (one repeat says nothing of the spread),
    NaN where none is.
    """
    x = members_of(member_forecasts)
    count = finite_count(x)
    center = ensemble(x)
    squares = np.where(np.isnan(x), 0.0, (x - center) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(squares / np.maximum(count - 1, 1))
    return np.where(count > 0, np.where(count > 1, std, 0.0), np.nan)
