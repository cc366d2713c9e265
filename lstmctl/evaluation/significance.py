"""Is the model really better than a baseline? The Diebold-Mariano test.

The test compares two forecasts' losses at the same origins, in time order:
with ``d_t = loss_a_t - loss_b_t``, it asks whether the mean of ``d`` is zero,
allowing for the autocorrelation that ``h``-step forecasts from overlapping
origins have (a long-run variance with autocovariances up to lag ``h - 1``).
Harvey, Leybourne and Newbold's (1997) correction scales the statistic for
small samples and reads it against Student's t with ``n - 1`` degrees of
freedom, which keeps the test honest on the few dozen origins a test split
holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lstmctl.errors import RunError

TEST_NAME = "diebold-mariano (HLN)"


def diebold_mariano(
    loss_a: np.ndarray, loss_b: np.ndarray, horizon: int = 1
) -> tuple[float, float]:
    """The HLN-corrected DM statistic and its two-sided p-value (negative: a has lower loss).

    ``loss_a`` and ``loss_b`` hold one loss per origin, in time order; more
    axes (steps, targets) are averaged first. Origins where either loss is
    NaN are left out. Identical losses give (0.0, 1.0); fewer than 3 origins,
    or too few for the correction at this horizon, give NaN.
    """
    d = _differential(loss_a, loss_b)
    n = len(d)
    if n and not d.any():
        return 0.0, 1.0
    correction = _hln_factor(n, horizon)
    if n < 3 or not correction > 0:
        return math.nan, math.nan
    variance = _long_run_variance(d, horizon) / n
    mean = float(d.mean())
    if variance <= 0:  # a constant, non-zero differential: one is always better
        return math.copysign(math.inf, mean), 0.0
    statistic = mean / math.sqrt(variance) * math.sqrt(correction)
    from scipy import stats

    return statistic, float(2.0 * stats.t.sf(abs(statistic), df=n - 1))


def verdict(
    model_loss: np.ndarray,
    baseline_loss: np.ndarray,
    baseline_name: str,
    horizon: int,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """The DM test of the model against one baseline, with its verdict in words.

    Lower loss is better. ``statistic`` and ``p`` are None when the test
    cannot be run (too few origins), so the result stays valid JSON.
    """
    statistic, p = diebold_mariano(model_loss, baseline_loss, horizon)
    if math.isnan(p):
        words = f"not testable against {baseline_name} (too few forecasts)"
    elif p < alpha and statistic < 0:
        words = f"better than {baseline_name} ({format_p(p)})"
    elif p < alpha and statistic > 0:
        words = f"worse than {baseline_name} ({format_p(p)})"
    else:
        words = f"not distinguishable from {baseline_name} ({format_p(p)})"
    return {
        "vs": baseline_name,
        "test": TEST_NAME,
        "statistic": None if math.isnan(statistic) else statistic,
        "p": None if math.isnan(p) else p,
        "verdict": words,
    }


def format_p(p: float) -> str:
    """``p < 0.001``, ``p = 0.003``, ``p = 0.040``, ``p = 0.40``: enough to compare to 0.05."""
    if math.isnan(p):
        return "p = n/a"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def share_better(repeat_losses: Sequence[float], baseline_loss: float) -> float:
    """Share of the repeats whose mean loss is below the baseline's (a failed, NaN one is not)."""
    losses = np.asarray(repeat_losses, dtype=float)
    if losses.size == 0 or math.isnan(baseline_loss):
        return math.nan
    return float(np.mean(losses < baseline_loss))


def _differential(loss_a: np.ndarray, loss_b: np.ndarray) -> np.ndarray:
    a, b = _per_origin(loss_a), _per_origin(loss_b)
    if a.shape != b.shape:
        raise RunError(
            f"expected losses at the same origins, found {a.shape} and {b.shape}", "significance"
        )
    d = a - b
    return d[~np.isnan(d)]


def _per_origin(loss: np.ndarray) -> np.ndarray:
    values = np.asarray(loss, dtype=float)
    return values.reshape(len(values), -1).mean(axis=1) if values.ndim > 1 else values.ravel()


def _long_run_variance(d: np.ndarray, horizon: int) -> float:
    """gamma_0 + 2 * sum of gamma_k for k < horizon; gamma_0 alone if that is not positive."""
    centred = d - d.mean()
    n = len(d)
    gamma = [float(centred[k:] @ centred[: n - k]) / n for k in range(min(horizon, n))]
    total = gamma[0] + 2.0 * sum(gamma[1:])
    return total if total > 0 else gamma[0]


def _hln_factor(n: int, horizon: int) -> float:
    """HLN's (n + 1 - 2h + h(h - 1) / n) / n: the statistic is scaled by its square root."""
    if n == 0:
        return math.nan
    return (n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n
