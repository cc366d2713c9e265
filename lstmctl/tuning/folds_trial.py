"""A trial of a spec with ``evaluate.backtest``: its repeats fitted on every fold, ranked pooled.

One test period can flatter a configuration (a lucky year); a backtest's
pooled score cannot, as easily. So when the spec has a backtest, every
trial is that backtest, run as ``run`` runs it
(:func:`lstmctl.evaluation.backtest.fit_backtest`: with ``refit`` the F folds
x R repeats are one compiled program): repeat i's score is its score
pooled over the folds' targets, exactly the ``pooled`` scores of ``run``'s
JSON, and the objective is their mean or median. Each fold's scores are kept
too (the trial's ``folds`` user attribute).

Pruning works as without a backtest: across repeats, a group of ``every``
repeats is F x ``every`` fits in one program, and the Wilcoxon test compares
pooled scores, paired by seed; across epochs, the median rule reads the
training loss of all F x ``every`` fits of the first group (a backtest has no
validation part, so ``monitor: val_loss`` is refused when the spec is read,
as for any spec without one).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from lstmctl.data.folds import FoldPlan
from lstmctl.data.prepared import Prepared
from lstmctl.evaluation.evaluate import RepeatScore
from lstmctl.spec import Spec
from lstmctl.tuning.pruning import EpochRule


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


class FoldsScorer:
    """A trial's repeats as ``run`` fits and scores a backtest: pooled over the folds."""

    def __init__(
        self,
        spec: Spec,
        data: Prepared,
        plan: FoldPlan,
        key: str,
        forecasts: dict[str, np.ndarray],
        metric: str,
    ) -> None:
        from lstmctl.evaluation.backtest import backtest_ranges

        self.spec, self.data, self.plan, self.key = spec, data, plan, key
        self.forecasts, self.metric = forecasts, metric
        # The ranges depend on the batch (stateful), the same for every group.
        self.ranges = backtest_ranges(spec, data, plan)
        self.baseline: dict[str, float] = {}
        self.folds: list[dict[str, Any]] = []

    def fit(self, part: Spec, first: int, on_epochs: EpochRule | None) -> Iterator[Any]:
        """Repeats ``first ..`` of ``part`` (a group) on every fold: their pooled scores."""
        from lstmctl.evaluation.backtest import fit_backtest

        scores = fit_backtest(
            part, self.data, self.plan, self.ranges, self.forecasts, on_epochs=on_epochs
        )
        self._keep_folds(scores.folds)
        if not self.baseline:
            name = (self.spec.evaluate.baseline_names or [""])[0]
            value = scores.pooled.baselines.get(name, {}).get(self.metric)
            if value is not None and math.isfinite(value):
                self.baseline = {name: float(value)}
        for j, row in enumerate(scores.pooled.rows):
            curves = [fold[j].history for fold in scores.fits]
            yield _renumbered(row, first + j), curves

    def _keep_folds(self, folds: list[Any]) -> None:
        """Append the group's per-fold scores (every metric, per repeat) to the trial's."""
        if not self.folds:
            self.folds = [
                {
                    "fold": fold.fold,
                    "train_rows": fold.train_rows,
                    "test": fold.test,
                    "scores": {m: [] for m in self.spec.evaluate.metrics},
                }
                for fold in folds
            ]
        for kept, fold in zip(self.folds, folds, strict=True):
            for m, values in kept["scores"].items():
                values.extend(None if r.error else _finite(r.scores.get(m)) for r in fold.rows)

    def attrs(self) -> dict[str, Any]:
        """The per-fold scores, for the trial's user attributes (and the report)."""
        return {"folds": self.folds}


def _renumbered(row: RepeatScore, index: int) -> RepeatScore:
    """A group's row as repeat ``index`` of the trial (its seed is already the trial's)."""
    from dataclasses import replace

    return replace(row, repeat=index + 1)
