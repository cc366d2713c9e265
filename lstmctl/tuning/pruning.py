"""Stopping hopeless trials early: across repeats and across epochs.

Across repeats, Optuna's ``WilcoxonPruner`` is the study's pruner: every
repeat's score is reported as one step (repeat i has seed ``seed + i`` in every
trial, so the steps pair naturally) and the trial is stopped once a one-sided
signed-rank test says it is worse than the best trial.

Across epochs, the rule is Optuna's ``MedianPruner``'s, applied here by hand
because a trial has a single series of intermediate values and the repeat
scores already use it: the trial's best monitored loss so far (the median over
its replicas, per epoch) is compared with the median of the completed trials'
curves at the same epoch. Curves are only compared between trials prepared
from the same data settings, whose losses are on the same scale.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lstmctl.spec.tune_config import EpochPruningSpec, RepeatPruningSpec


class Pruned(Exception):  # a control-flow signal, like optuna.TrialPruned
    """A trial was stopped early; ``how`` says by which rule and when, for the report."""

    def __init__(self, how: dict[str, Any]) -> None:
        super().__init__(how.get("reason", "pruned"))
        self.how = how


def study_pruner(cfg: RepeatPruningSpec | None) -> Any:
    """The Optuna pruner of the study: Wilcoxon across repeats, or none."""
    import optuna

    if cfg is None:
        return optuna.pruners.NopPruner()
    import warnings

    with warnings.catch_warnings():
        # WilcoxonPruner is marked experimental; the warning is noise for our users.
        warnings.simplefilter("ignore")
        return optuna.pruners.WilcoxonPruner(
            p_threshold=cfg.p_threshold, n_startup_steps=cfg.min_repeats
        )


def median_curve(histories: list[dict[str, list[float]]], monitor: str) -> list[float]:
    """Per epoch, the median of the monitored loss over the repeats that reached it."""
    series = [h.get(monitor, []) for h in histories]
    longest = max((len(s) for s in series), default=0)
    if longest == 0:
        return []
    grid = np.full((len(series), longest), np.nan)
    for i, s in enumerate(series):
        grid[i, : len(s)] = s
    grid[~np.isfinite(grid)] = np.nan
    out = []
    for col in grid.T:
        ok = col[np.isfinite(col)]
        out.append(float(f"{np.median(ok):.6g}") if ok.size else float("nan"))
    return out


class EpochRule:
    """The median rule over learning curves, called between chunks of epochs."""

    def __init__(self, cfg: EpochPruningSpec, references: list[list[float]], epochs: int) -> None:
        self.cfg = cfg
        self.references = [r for r in references if r]
        self.warmup = cfg.warmup * epochs if cfg.warmup < 1 else cfg.warmup
        self.checks = 0

    def __call__(self, done: int, curves: dict[str, np.ndarray]) -> None:
        """Raise :class:`Pruned` when the trial's best so far is worse than the median."""
        if done <= self.warmup or done < 1:
            return
        ref = [r[done - 1] for r in self.references if len(r) >= done]
        ref = [v for v in ref if math.isfinite(v)]
        if len(ref) < self.cfg.min_trials:
            return
        values = np.asarray(curves[self.cfg.monitor], dtype=float)[:done]
        with np.errstate(all="ignore"):
            per_epoch = np.array(
                [
                    np.median(row[np.isfinite(row)]) if np.isfinite(row).any() else np.nan
                    for row in values
                ]
            )
        if not np.isfinite(per_epoch).any():
            return  # every replica failed: the trial fails on its own
        self.checks += 1
        best = float(np.nanmin(per_epoch))
        median = float(np.median(ref))
        if best > median:
            raise Pruned(
                {
                    "by": "epochs",
                    "epoch": int(done),
                    "value": best,
                    "median": median,
                    "reason": (
                        f"after {done} epochs: {self.cfg.monitor} {best:.4g} > median "
                        f"{median:.4g} of {len(ref)} finished trials"
                    ),
                }
            )
