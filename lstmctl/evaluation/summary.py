"""Summaries of a metric over repeats, and skill relative to a baseline."""

from __future__ import annotations

import math

import numpy as np

from lstmctl.spec.vocabulary import LOWER_IS_BETTER


def summarize(values: list[float]) -> dict[str, object]:
    """mean, std (sample, ddof=1), min, median, max and the values themselves."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if v.size == 0:
        nan = float("nan")
        return {"mean": nan, "std": nan, "min": nan, "median": nan, "max": nan, "values": values}
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "min": float(v.min()),
        "median": float(np.median(v)),
        "max": float(v.max()),
        "values": [float(x) for x in values],
    }


def relative_skill(metric: str, model_mean: float, baseline: float) -> float | None:
    """Improvement over the baseline as a fraction: 0.25 means 25% better.

    For error metrics this is ``1 - model / baseline``; for accuracy it is
    ``model / baseline - 1``. None when the baseline is 0 or undefined.
    """
    if not (math.isfinite(baseline) and math.isfinite(model_mean)) or baseline == 0:
        return None
    if LOWER_IS_BETTER[metric]:
        return 1.0 - model_mean / baseline
    return model_mean / baseline - 1.0
