"""One trial: the ``run`` pipeline on one configuration, every repeat's score recorded.

prepare -> ``iter_repeats`` (the fused trainer fits the repeats together as
replicas) -> ``score_repeat`` for each -> the objective: the mean or median of
one metric over the repeats. With ``evaluate.backtest`` in the spec a trial
is a backtest instead (:mod:`lstmctl.tuning.folds_trial`): each repeat's
score is its score pooled over the folds, and the objective summarizes those.
With repeat pruning the repeats are fitted in groups of ``every`` (each a
compiled program of that many replicas, seeds continuing where the last group
stopped), and the Wilcoxon test runs between groups. Everything a trial
learns is stored on the Optuna trial as user attributes, so a study's
storage alone can rebuild the whole report.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmctl.data.folds import FoldPlan
from lstmctl.data.prepared import Prepared
from lstmctl.errors import LstmctlError, RunError
from lstmctl.evaluation.evaluate import RepeatScore
from lstmctl.spec import Spec
from lstmctl.spec.derive import repeats_part, trial_spec
from lstmctl.spec.tune_config import TuneSpec
from lstmctl.spec.tune_space import Dimension
from lstmctl.tuning.folds_trial import FoldsScorer
from lstmctl.tuning.pruning import EpochRule, Pruned, median_curve

# What a trial fits per group of repeats: each repeat's scores and learning curves.
Scored = tuple[RepeatScore, list[dict[str, list[float]]]]


@dataclass
class TrialContext:
    """What every trial of one worker shares: the base spec, the space, the prepared data."""

    spec: Spec
    dims: list[Dimension]
    # Prepared data and baselines by data settings: trials that change only
    # model or train keys reuse them (prepare depends on spec.data alone).
    cache: dict[str, tuple[Prepared, dict[str, dict[str, float]]]] = field(default_factory=dict)
    # A backtest's shared data and fold plan, by data and fold settings; its
    # baselines' forecasts of every test window, made when a trial first needs them.
    folds: dict[str, tuple[Prepared, FoldPlan]] = field(default_factory=dict)
    forecasts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

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

    def backtest(self, spec: Spec) -> tuple[Spec, Prepared, FoldPlan, str]:
        """``spec``'s backtest checked as ``run`` checks it, its shared data, fold plan and
        data key. Trials with the same data and fold settings share the data; each
        still gets the checks that depend on its model and batch."""
        from lstmctl.evaluation.backtest import check_backtest, check_fold_fits, prepare_backtest
        from lstmctl.training.checks import check_training
        from lstmctl.training.footprint import check_footprint

        key = data_key(spec)
        if key not in self.folds:
            spec, data, plan = prepare_backtest(spec)
            self.folds[key] = (data, plan)
            return spec, data, plan, key
        data, plan = self.folds[key]
        check_backtest(spec)
        check_footprint(spec, data)
        check_training(spec, data)
        check_fold_fits(spec, data)
        return spec, data, plan, key

    def baseline_forecasts(self, spec: Spec, data: Prepared, key: str) -> dict[str, np.ndarray]:
        """The baselines' forecasts of every test window of a backtest's shared data."""
        from lstmctl.evaluation.evaluate import baseline_forecasts

        if key not in self.forecasts:
            self.forecasts[key] = baseline_forecasts(spec, data)
        return self.forecasts[key]


def data_key(spec: Spec) -> str:
    """A short hash of the data settings (trials with equal keys share prepared data),
    and of the backtest's settings when there is one (they cut the shared data)."""
    raw: dict[str, Any] = spec.data.model_dump(mode="json")
    if spec.evaluate.backtest is not None:
        raw = {"data": raw, "backtest": spec.evaluate.backtest.model_dump(mode="json")}
    text = json.dumps(raw, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


class RepeatsScorer:
    """A trial's repeats as ``run`` fits and scores them on the spec's one test part."""

    def __init__(self, ctx: TrialContext, asked: Spec) -> None:
        from lstmctl.evaluation.evaluate import scale_of

        metric = ctx.tune.objective.metric
        self.spec, self.data, baselines, self.key = ctx.prepared(asked)
        name = (self.spec.evaluate.baseline_names or [""])[0]
        value = baselines.get(name, {}).get(metric)
        self.baseline = {} if value is None else {name: value}
        self.scale = scale_of(self.spec, self.data)

    def fit(self, part: Spec, first: int, on_epochs: EpochRule | None) -> Iterator[Scored]:
        """Repeats ``first ..`` of ``part`` (a group), scored one by one as they come."""
        from lstmctl.evaluation.evaluate import score_repeat
        from lstmctl.training.fit import iter_repeats

        for j, fit in enumerate(iter_repeats(part, self.data, on_epochs=on_epochs)):
            yield score_repeat(self.spec, self.data, first + j, fit, self.scale), [fit.history]

    def attrs(self) -> dict[str, Any]:
        """More for the trial's user attributes (nothing: the repeats' scores say it all)."""
        return {}


def _scorer(ctx: TrialContext, asked: Spec) -> RepeatsScorer | FoldsScorer:
    """What fits and scores the trial spec ``asked``: a backtest's folds, or its repeats."""
    if asked.evaluate.backtest is None:
        return RepeatsScorer(ctx, asked)
    spec, data, plan, key = ctx.backtest(asked)
    forecasts = ctx.baseline_forecasts(spec, data, key)
    return FoldsScorer(spec, data, plan, key, forecasts, ctx.tune.objective.metric)


def run_trial(
    trial: Any,
    ctx: TrialContext,
    references: Callable[[str], list[list[float]]] | None = None,
) -> float:
    """Run one Optuna trial; return its objective, or raise ``Pruned`` or an error.

    ``references(data_key)`` gives the completed trials' learning curves for
    epoch pruning.
    """
    tune = ctx.tune
    metric, n_rep = tune.objective.metric, ctx.repeats
    start = time.perf_counter()
    params = {d.key: d.suggest(trial) for d in ctx.dims}
    scorer = _scorer(ctx, trial_spec(ctx.spec, params, n_rep, metric))
    spec = scorer.spec
    trial.set_user_attr("data_key", scorer.key)
    if scorer.baseline:  # a backtest's pooled baseline is known after its first group
        trial.set_user_attr("baseline", scorer.baseline)

    scores: dict[str, list[float | None]] = {m: [] for m in spec.evaluate.metrics}
    repeats: list[dict[str, Any]] = []
    histories: list[dict[str, list[float]]] = []

    def save() -> None:
        trial.set_user_attr("scores", scores)
        trial.set_user_attr("repeats", repeats)
        if scorer.baseline:
            trial.set_user_attr("baseline", scorer.baseline)
        for name, value in scorer.attrs().items():
            trial.set_user_attr(name, value)
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 3))

    rep_cfg, epoch_cfg = tune.pruning.repeats, tune.pruning.epochs
    group = rep_cfg.every if rep_cfg is not None else n_rep
    rule = None
    if epoch_cfg is not None and references is not None:
        rule = EpochRule(epoch_cfg, references(scorer.key), spec.train.epochs)
    try:
        for first in range(0, n_rep, group):
            n = min(group, n_rep - first)
            part = repeats_part(spec, first, n)
            # Epoch pruning judges the configuration on its first group of repeats.
            hook = rule if first == 0 else None
            for j, (row, curves) in enumerate(scorer.fit(part, first, hook)):
                index = first + j
                for m in scores:
                    scores[m].append(None if row.error else _finite(row.scores.get(m)))
                repeats.append(
                    {"repeat": index + 1, "seed": row.seed, "epochs": row.epochs}
                    | ({"error": row.error} if row.error else {})
                )
                histories.extend(curves)
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
