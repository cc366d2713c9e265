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
    params = {d.key: d.suggest(trial) for d in ctx.dims}
    scorer = _scorer(ctx, trial_spec(ctx.spec, params, ctx.repeats, tune.objective.metric))
    trial.set_user_attr("data_key", scorer.key)
    if scorer.baseline:  # a backtest's pooled baseline is known after its first group
        trial.set_user_attr("baseline", scorer.baseline)
    record = _TrialRecord(trial, scorer, list(scorer.spec.evaluate.metrics))
    epoch_cfg = tune.pruning.epochs
    rule = None
    if epoch_cfg is not None and references is not None:
        rule = EpochRule(epoch_cfg, references(scorer.key), scorer.spec.train.epochs)
    try:
        _fit_groups(trial, ctx, scorer, record, rule)
    except Pruned as p:
        record.save()
        trial.set_user_attr("pruned", p.how)
        raise
    values = [v for v in record.scores[tune.objective.metric] if v is not None]
    if not values:
        first_error = next(
            (r["error"] for r in record.repeats if r.get("error")), "no finite scores"
        )
        raise RunError(f"every repeat failed (first: {first_error})", where="trial")
    if epoch_cfg is not None:
        trial.set_user_attr("curve", median_curve(record.histories, epoch_cfg.monitor))
    return float(np.mean(values) if tune.objective.summary == "mean" else np.median(values))


class _TrialRecord:
    """A trial's scores, repeats and learning curves so far, saved in its user attributes."""

    def __init__(self, trial: Any, scorer: Any, metrics: list[str]) -> None:
        self.trial, self.scorer = trial, scorer
        self.start = time.perf_counter()
        self.scores: dict[str, list[float | None]] = {m: [] for m in metrics}
        self.repeats: list[dict[str, Any]] = []
        self.histories: list[dict[str, list[float]]] = []

    def add(self, index: int, row: Any, curves: list[dict[str, list[float]]]) -> None:
        for m in self.scores:
            self.scores[m].append(None if row.error else _finite(row.scores.get(m)))
        self.repeats.append(
            {"repeat": index + 1, "seed": row.seed, "epochs": row.epochs}
            | ({"error": row.error} if row.error else {})
        )
        self.histories.extend(curves)

    def save(self) -> None:
        trial, scorer = self.trial, self.scorer
        trial.set_user_attr("scores", self.scores)
        trial.set_user_attr("repeats", self.repeats)
        if scorer.baseline:
            trial.set_user_attr("baseline", scorer.baseline)
        for name, value in scorer.attrs().items():
            trial.set_user_attr(name, value)
        trial.set_user_attr("seconds", round(time.perf_counter() - self.start, 3))


def _fit_groups(
    trial: Any, ctx: TrialContext, scorer: Any, record: _TrialRecord, rule: Any
) -> None:
    """The repeats in groups, each reported to Optuna; ``Pruned`` when a group says so."""
    spec, n_rep = scorer.spec, ctx.repeats
    metric = ctx.tune.objective.metric
    rep_cfg = ctx.tune.pruning.repeats
    group = rep_cfg.every if rep_cfg is not None else n_rep
    for first in range(0, n_rep, group):
        n = min(group, n_rep - first)
        # Epoch pruning judges the configuration on its first group of repeats.
        hook = rule if first == 0 else None
        for j, (row, curves) in enumerate(scorer.fit(repeats_part(spec, first, n), first, hook)):
            record.add(first + j, row, curves)
            value = record.scores[metric][-1]
            if value is not None:
                trial.report(value, first + j)
        record.save()
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


def describe_error(e: BaseException) -> str:
    """One line for the trials table: the library's own message, or the exception's."""
    if isinstance(e, LstmctlError):
        return str(e)
    text = str(e).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(e).__name__}: {first}"[:300]
