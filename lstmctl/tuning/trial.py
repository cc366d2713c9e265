"""One trial: the ``run`` pipeline on one configuration, every repeat's score recorded.

prepare -> ``iter_repeats`` (the fused trainer fits the repeats together as
replicas) -> ``score_repeat`` for each -> the objective: the mean or median of
one metric over the repeats. With repeat pruning the repeats are fitted in
groups of ``every`` (each a compiled program of that many replicas, seeds
continuing where the last group stopped), and the Wilcoxon test runs between
groups. Everything a trial learns is stored on the Optuna trial as user
attributes, so a study's storage alone can rebuild the whole report.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.errors import LstmctlError, RunError
from lstmctl.spec import Spec
from lstmctl.spec.derive import repeats_part, trial_spec
from lstmctl.spec.tune_config import TuneSpec
from lstmctl.spec.tune_space import Dimension
from lstmctl.tuning.pruning import EpochRule, Pruned, median_curve


@dataclass
class TrialContext:
    """What every trial of one worker shares: the base spec, the space, the prepared data."""

    spec: Spec
    dims: list[Dimension]
    # Prepared data and baselines by data settings: trials that change only
    # model or train keys reuse them (prepare depends on spec.data alone).
    cache: dict[str, tuple[Prepared, dict[str, dict[str, float]]]] = field(default_factory=dict)

    @property
    def tune(self) -> TuneSpec:
        assert self.spec.tune is not None
        return self.spec.tune

    @property
    def repeats(self) -> int:
        return self.tune.repeats or self.spec.evaluate.repeats

    def prepared(self, spec: Spec) -> tuple[Spec, Prepared, dict[str, dict[str, float]], str]:
        """``spec`` as it runs (a problem's task settled), its prepared data, the
        baselines' scores and the data key. ``spec`` itself is not changed."""
        from lstmctl.evaluation.evaluate import baseline_scores
        from lstmctl.evaluation.preflight import prepare_run, settled

        key = data_key(spec)
        if key in self.cache:
            data, baselines = self.cache[key]
            return settled(spec, data), data, baselines, key
        spec, data = prepare_run(spec)
        baselines = baseline_scores(spec, data)
        self.cache[key] = (data, baselines)
        return spec, data, baselines, key


def data_key(spec: Spec) -> str:
    """A short hash of the data settings (trials with equal keys share prepared data)."""
    text = json.dumps(spec.data.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def run_trial(
    trial: Any,
    ctx: TrialContext,
    references: Callable[[str], list[list[float]]] | None = None,
) -> float:
    """Run one Optuna trial; return its objective, or raise ``Pruned`` or an error.

    ``references(data_key)`` gives the completed trials' learning curves for
    epoch pruning.
    """
    from lstmctl.evaluation.evaluate import scale_of, score_repeat
    from lstmctl.training.fit import iter_repeats

    tune = ctx.tune
    metric, n_rep = tune.objective.metric, ctx.repeats
    start = time.perf_counter()
    params = {d.key: d.suggest(trial) for d in ctx.dims}
    spec, data, baselines, key = ctx.prepared(trial_spec(ctx.spec, params, n_rep, metric))
    trial.set_user_attr("data_key", key)
    base_name = (spec.evaluate.baseline_names or [""])[0]
    base = baselines.get(base_name, {}).get(metric)
    if base is not None:
        trial.set_user_attr("baseline", {base_name: base})
    scale = scale_of(spec, data)

    scores: dict[str, list[float | None]] = {m: [] for m in spec.evaluate.metrics}
    repeats: list[dict[str, Any]] = []
    histories: list[dict[str, list[float]]] = []

    def save() -> None:
        trial.set_user_attr("scores", scores)
        trial.set_user_attr("repeats", repeats)
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 3))

    rep_cfg, epoch_cfg = tune.pruning.repeats, tune.pruning.epochs
    group = rep_cfg.every if rep_cfg is not None else n_rep
    rule = None
    if epoch_cfg is not None and references is not None:
        rule = EpochRule(epoch_cfg, references(key), spec.train.epochs)
    try:
        for first in range(0, n_rep, group):
            n = min(group, n_rep - first)
            part = repeats_part(spec, first, n)
            # Epoch pruning judges the configuration on its first group of repeats.
            hook = rule if first == 0 else None
            for j, fit in enumerate(iter_repeats(part, data, on_epochs=hook)):
                index = first + j
                row = score_repeat(spec, data, index, fit, scale)
                for m in scores:
                    scores[m].append(None if row.error else _finite(row.scores.get(m)))
                repeats.append(
                    {"repeat": index + 1, "seed": fit.seed, "epochs": row.epochs}
                    | ({"error": row.error} if row.error else {})
                )
                histories.append(fit.history)
                value = scores[metric][-1]
                if value is not None:
                    trial.report(value, index)
            save()
            done = first + n
            if rep_cfg is not None and done < n_rep and trial.should_prune():
                raise Pruned(
                    {
                        "by": "repeats",
                        "repeat": done,
                        "reason": f"after {done}/{n_rep} repeats: worse than the best "
                        f"(Wilcoxon p < {rep_cfg.p_threshold})",
                    }
                )
    except Pruned as p:
        save()
        trial.set_user_attr("pruned", p.how)
        raise

    values = [v for v in scores[metric] if v is not None]
    if not values:
        first_error = next((r["error"] for r in repeats if r.get("error")), "no finite scores")
        raise RunError(f"every repeat failed (first: {first_error})", where="trial")
    if epoch_cfg is not None:
        trial.set_user_attr("curve", median_curve(histories, epoch_cfg.monitor))
    objective = float(np.mean(values) if tune.objective.summary == "mean" else np.median(values))
    return objective


def describe_error(e: BaseException) -> str:
    """One line for the trials table: the library's own message, or the exception's."""
    if isinstance(e, LstmctlError):
        return str(e)
    text = str(e).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(e).__name__}: {first}"[:300]
