"""From fitted repeats to scores: walk-forward forecasts in original units."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.evaluation.metrics import CLASSIFICATION_METRICS, score
from lstmctl.evaluation.summary import relative_skill, summarize
from lstmctl.spec import Spec
from lstmctl.training.result import FitResult


@dataclass
class RepeatScore:
    """One repeat's row in the results table."""

    repeat: int
    seed: int
    scores: dict[str, float]
    epochs: int
    seconds: float
    error: str | None = None

    def row(self) -> dict[str, Any]:
        return {
            "repeat": self.repeat,
            "seed": self.seed,
            **self.scores,
            "epochs": self.epochs,
            "seconds": round(self.seconds, 3),
            "error": self.error or "",
        }


def baseline_scores(spec: Spec, data: Prepared) -> dict[str, dict[str, float]]:
    """The baseline's metrics on exactly the test targets the models are scored on."""
    if spec.evaluate.baseline == "persistence":
        return {"persistence": score(_error_metrics(spec), data.actual_test, data.persistence_test)}
    if spec.evaluate.baseline == "majority":
        from lstmctl.evaluation.classification import majority_scores

        return {"majority": majority_scores(spec, data)}
    return {}


def _error_metrics(spec: Spec) -> list[str]:
    return [m for m in spec.evaluate.metrics if m not in CLASSIFICATION_METRICS]


def score_repeat(spec: Spec, data: Prepared, index: int, fit: FitResult) -> RepeatScore:
    """Invert one repeat's test predictions to original units and score them."""
    names: list[str] = list(spec.evaluate.metrics)
    scores: dict[str, float]
    if fit.error is not None:
        scores = {m: float("nan") for m in names}
    else:
        forecast = data.inverse(np.asarray(fit.test_pred, dtype=np.float64))
        scores = score(names, data.actual_test, forecast)
        if not all(math.isfinite(v) for k, v in scores.items() if k != "mape"):
            fit.error = fit.error or "forecasts are not finite"
    return RepeatScore(
        repeat=index + 1,
        seed=fit.seed,
        scores=scores,
        epochs=fit.epochs_run,
        seconds=fit.seconds,
        error=fit.error,
    )


@dataclass
class Summary:
    """Everything the report shows."""

    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    skill: dict[str, dict[str, float | None]] = field(default_factory=dict)


def summarize_repeats(
    spec: Spec, rows: list[RepeatScore], baselines: dict[str, dict[str, float]]
) -> Summary:
    """Summaries per metric over the repeats that succeeded, and skill vs each baseline."""
    ok = [r for r in rows if r.error is None]
    out = Summary()
    for m in spec.evaluate.metrics:
        out.metrics[m] = summarize([r.scores[m] for r in ok])
    for name, base in baselines.items():
        out.skill[name] = {
            m: relative_skill(m, float(out.metrics[m]["mean"]), base[m])  # type: ignore[arg-type]
            for m in base
            if m in out.metrics
        }
    return out
