"""Scores of a panel (``data.series``), series by series, and their aggregate.

A panel's test windows are pooled, series after series
(:class:`~lstmctl.data.prepared.Panel`). Each series is scored alone, in its
own units, on its own test targets: :func:`series_views` cuts the pooled data
into one single-series :class:`~lstmctl.data.prepared.Prepared` per series, so
the baselines, MASE scales and metrics of one series run exactly as they do
for a spec with one series.

**The aggregate** (a run's top-level ``metrics`` and ``baselines``) is, for
each repeat and each metric, the mean over the series of that series' score
(:func:`mean_over_series`). Each series counts once, however many windows it
has; the mean of RMSEs in different units is dominated by the series with the
largest values, which is why scale-free metrics (``mase``) and the skill
over persistence per series (``per_series``) are the ones to compare series by.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.evaluation.metrics import Scale, score
from lstmctl.evaluation.summary import relative_skill, summarize
from lstmctl.spec import Spec

__all__ = [
    "by_series",
    "mean_over_series",
    "per_step_over_series",
    "series_views",
    "summarize_series",
]


def series_views(data: Prepared) -> list[Prepared]:
    """One single-series view of a panel per series: its test windows' targets,
    persistence and rows (``series``); no training windows, no inverse."""
    assert data.panel is not None
    panel = data.panel
    empty = data.X_train[:0]
    out = []
    for i, part in enumerate(panel.test_slices()):
        out.append(
            replace(
                data,
                X_train=empty,
                y_train=data.y_train[:0],
                X_val=empty,
                y_val=data.y_val[:0],
                X_test=data.X_test[part],
                y_test=data.y_test[part],
                actual_test=data.actual_test[part],
                persistence_test=data.persistence_test[part],
                test_labels=data.test_labels[part],
                actual_val=None,
                inverse_val=None,
                series=panel.series[i],
                panel=None,
            )
        )
    return out


def by_series(
    names: list[str],
    data: Prepared,
    forecast: np.ndarray,
    scales: list[Scale | None],
) -> dict[str, dict[str, float]]:
    """Each series' metrics on its own test windows (``forecast``: the pooled forecasts
    in original units; ``scales``: each series' MASE/RMSSE scale)."""
    assert data.panel is not None
    out = {}
    parts = data.panel.test_slices()
    for sid, part, scale in zip(data.panel.ids, parts, scales, strict=True):
        out[sid] = score(names, data.actual_test[part], forecast[part], scale)
    return out


def mean_over_series(per_series: dict[str, dict[str, float]]) -> dict[str, float]:
    """The aggregate: each metric's mean over the series (NaN when any series has NaN)."""
    if not per_series:
        return {}
    metrics = list(next(iter(per_series.values())))
    return {m: float(np.mean([s[m] for s in per_series.values()])) for m in metrics}


def per_step_over_series(
    names: list[str],
    data: Prepared,
    forecasts: dict[str, np.ndarray],
    scales: list[Scale | None],
) -> dict[str, dict[str, list[float]]]:
    """Each forecast's metrics at each horizon step, aggregated as the top-level scores
    are: at step k, the mean over the series of each series' score at step k.

    ``forecasts``: name (``ensemble``, each baseline) -> the pooled forecasts in
    original units; ``scales``: each series' MASE/RMSSE scale (a pooled scale
    would mix the series' units, and none leaves MASE and RMSSE NaN).
    """
    assert data.panel is not None
    parts = data.panel.test_slices()
    actual = data.actual_test
    out: dict[str, dict[str, list[float]]] = {}
    for name, forecast in forecasts.items():
        steps = []
        for k in range(actual.shape[1]):
            each = {
                sid: score(names, actual[part, k : k + 1], forecast[part, k : k + 1], scale)
                for sid, part, scale in zip(data.panel.ids, parts, scales, strict=True)
            }
            steps.append(mean_over_series(each))
        out[name] = {m: [s[m] for s in steps] for m in names}
    return out


def summarize_series(
    spec: Spec,
    per_repeat: list[dict[str, dict[str, float]]],
    baselines: dict[str, dict[str, dict[str, float]]],
) -> dict[str, dict[str, Any]]:
    """``per_series`` of the results: for each series, its metrics summarized over the
    repeats (as the top-level ``metrics``), its baselines and its skill over each.

    ``per_repeat``: each successful repeat's scores by series; ``baselines``: by
    series, then baseline name, then metric.
    """
    out: dict[str, dict[str, Any]] = {}
    for sid, base in baselines.items():
        metrics = {
            m: summarize([r[sid][m] for r in per_repeat if sid in r]) for m in spec.evaluate.metrics
        }
        skill = {
            name: {
                m: relative_skill(m, float(metrics[m]["mean"]), b[m])  # type: ignore[arg-type]
                for m in b
                if m in metrics
            }
            for name, b in base.items()
        }
        out[sid] = {"metrics": metrics, "baselines": base, "skill": skill}
    return out
