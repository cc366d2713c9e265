"""The ``tune:`` section of a spec: search space, strategy, budget, objective, pruning.

Only the shape is checked here; whether the space's dotted keys name real
spec keys, and whether every choice is a valid value for its key, is checked
against the whole spec by :func:`lstmctl.spec.tune_space.check_space` (called by
``validate_spec``). This module imports nothing heavy: it is loaded with the
spec.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from lstmctl.spec.vocabulary import LOWER_IS_BETTER


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _switch(v: Any) -> Any:
    # `repeats: true` turns a pruner on with its defaults; `false` turns it off.
    if v is True:
        return {}
    if v is False:
        return None
    return v


class RepeatPruningSpec(_Strict):
    """Stop a trial whose repeats are significantly worse than the best trial's.

    A one-sided Wilcoxon signed-rank test pairs the two trials' scores by
    repeat (repeat i has the same seed in every trial), every ``every``
    repeats once ``min_repeats`` are in (Optuna's ``WilcoxonPruner``).
    """

    p_threshold: float = Field(0.1, gt=0.0, lt=1.0)
    min_repeats: PositiveInt = 5
    # Repeats trained together (one compiled program) between two tests.
    every: PositiveInt = 5


class EpochPruningSpec(_Strict):
    """Stop a trial whose learning curve is worse than the median of finished trials'.

    At every check the trial's best ``monitor`` so far (the median over its
    replicas) is compared with the median of the completed trials' values at
    the same epoch (Optuna's ``MedianPruner`` rule). Needs ``backend: auto``.
    """

    monitor: Literal["val_loss", "loss"] = "val_loss"
    # Epochs before the first check: a number of epochs, or a fraction (< 1) of the trial's.
    warmup: float = Field(0.1, ge=0.0)
    # Completed trials needed before any trial is pruned.
    min_trials: PositiveInt = 3


class PruningSpec(_Strict):
    """Optional early stopping of hopeless trials: across repeats and across epochs."""

    repeats: RepeatPruningSpec | None = None
    epochs: EpochPruningSpec | None = None

    @field_validator("repeats", "epochs", mode="before")
    @classmethod
    def _on_off(cls, v: Any) -> Any:
        return _switch(v)


class ObjectiveSpec(_Strict):
    """What a trial is ranked by: a summary of one metric over its repeats."""

    metric: str = "rmse"
    # minimize or maximize; default: what the metric needs (accuracy: maximize).
    direction: Literal["minimize", "maximize"] | None = None
    summary: Literal["mean", "median"] = "mean"

    @model_validator(mode="after")
    def _known(self) -> ObjectiveSpec:
        if self.metric not in LOWER_IS_BETTER:
            known = ", ".join(LOWER_IS_BETTER)
            raise ValueError(f"tune.objective.metric must be one of {known}, found {self.metric!r}")
        if self.direction is None:
            self.direction = "minimize" if LOWER_IS_BETTER[self.metric] else "maximize"
        return self


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*$")
_UNIT = {None: 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(v: Any) -> float | None:
    """Seconds from ``600``, ``"90s"``, ``"10m"`` or ``"1.5h"``."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValueError(f"tune.timeout must be seconds or a duration like 10m, found {v!r}")
    if isinstance(v, int | float):
        seconds = float(v)
    else:
        m = _DURATION.match(str(v))
        if not m:
            raise ValueError(
                f"tune.timeout must be seconds or a duration like 90s, 10m, 1h, found {v!r}"
            )
        seconds = float(m.group(1)) * _UNIT[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"tune.timeout must be positive, found {v!r}")
    return seconds


class TuneSpec(_Strict):
    """How ``lstmctl tune`` searches: every trial is the spec with some keys changed."""

    # Dotted spec key -> a list of choices, or a range {low, high, log, step}.
    space: dict[str, Any]
    # grid: every combination; random / tpe: Optuna's samplers.
    # Default: grid when the space is finite (choices and stepped ranges), else tpe.
    strategy: Literal["grid", "random", "tpe"] | None = None
    # Trials to run in the whole study (all workers together); default: the grid's size.
    trials: PositiveInt | None = None
    # Stop starting trials after this long (seconds, or 90s / 10m / 1h), per invocation.
    timeout: float | None = None
    # Repeats per trial; default: evaluate.repeats.
    repeats: PositiveInt | None = None
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    pruning: PruningSpec = Field(default_factory=PruningSpec)
    # Seeds the sampler (and the grid's order); default: the spec's seed.
    seed: int | None = None

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float | None:
        return parse_duration(v)

    @field_validator("space")
    @classmethod
    def _some(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not v:
            raise ValueError("tune.space must name at least one key to search")
        return v

    @model_validator(mode="after")
    def _budget(self) -> TuneSpec:
        if self.strategy in ("random", "tpe") and self.trials is None and self.timeout is None:
            raise ValueError(
                f"strategy {self.strategy} needs a budget: set tune.trials or tune.timeout"
            )
        return self
