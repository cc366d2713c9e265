"""The evaluate and tracking sections of the schema: metrics, baselines, intervals,
the update experiment, backtests."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator

from lstmctl.spec.base import Count32, Strict

Metric = Literal["rmse", "mae", "mape", "smape", "mase", "rmsse", "accuracy", "sequence_accuracy"]
# The forecasts a model is measured against (``majority`` for class labels, and
# ``none``: no baseline). Each is scored on exactly the model's test targets.
Baseline = Literal[
    "persistence", "seasonal_naive", "drift", "mean", "ets", "arima", "majority", "none"
]


UpdateScheme = Literal["none", "fine-tune", "fine-tune-all", "refit"]


class UpdateSpec(Strict):
    """Lesson 13: walk forward over the test part, updating each model after every step.

    ``none`` keeps the fitted model; ``fine-tune`` continues training on the
    newly observed window only, ``fine-tune-all`` on everything seen so far,
    each for ``epochs`` epochs; ``refit`` fits from scratch on everything seen
    (the spec's train settings).
    """

    schemes: list[UpdateScheme] = Field(
        default_factory=lambda: list[UpdateScheme](["none", "fine-tune", "refit"])
    )
    epochs: Count32 = 2

    @field_validator("schemes")
    @classmethod
    def _some_schemes(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("list at least one update scheme")
        return list(dict.fromkeys(v))


class BacktestSpec(Strict):
    """Backtests over many origins: ``folds`` test periods, each as long as
    ``data.split.test``, ending ``step`` rows apart (the last is the usual test part)."""

    folds: PositiveInt = 1
    step: PositiveInt = 12
    # expanding: each fold trains on every row before its test part; sliding: on a
    # fixed-length window (the earliest fold's training rows) ending there.
    window: Literal["expanding", "sliding"] = "expanding"
    # false: one fit (on the rows before the earliest fold's test part) scores every fold.
    refit: bool = True


class EvaluateSpec(Strict):
    """How skill is estimated: R repeats, metrics in original units, a baseline."""

    repeats: PositiveInt = 10
    metrics: list[Metric] = Field(default_factory=lambda: list[Metric](["rmse", "mae"]))
    # The one-item form of ``baselines`` (kept for the course's specs); ``baselines``,
    # when given, is the list scored and this is ignored.
    baseline: Baseline = "persistence"
    baselines: list[Baseline] | None = None
    # The seasonal period of seasonal_naive, ets, arima, mase and rmsse (None: from
    # the time column's frequency: monthly 12, quarterly 4, weekly 52, daily 7, hourly 24).
    season: PositiveInt | None = None
    # Prediction intervals from the ensemble of repeats, conformally calibrated on
    # windows the repeats did not train on (levels in (0, 1); empty: none).
    intervals: list[float] = Field(default_factory=list)
    # Lesson 13's update experiment, run after the repeats (none: not run).
    update: UpdateSpec | None = None
    # Backtests over many origins (none: the one test part of data.split).
    backtest: BacktestSpec | None = None

    @field_validator("metrics")
    @classmethod
    def _some(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("list at least one metric")
        return list(dict.fromkeys(v))

    @field_validator("baselines")
    @classmethod
    def _baselines(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        names = [b for b in dict.fromkeys(v) if b != "none"]
        if "majority" in names and len(names) > 1:
            raise ValueError(
                "majority scores class labels and the other baselines forecast real values: "
                "list majority alone"
            )
        return names

    @field_validator("intervals")
    @classmethod
    def _levels(cls, v: list[float]) -> list[float]:
        for level in v:
            if isinstance(level, bool) or not 0.0 < float(level) < 1.0:
                raise ValueError(f"expected interval levels between 0 and 1, found {level}")
        return sorted({float(x) for x in v})

    @property
    def baseline_names(self) -> list[str]:
        """The baselines scored, in the spec's order (``baselines``, else ``baseline``)."""
        if self.baselines is not None:
            return list(self.baselines)
        return [] if self.baseline == "none" else [self.baseline]


class TrackingSpec(Strict):
    """Optional experiment tracking: ``mlflow`` is a tracking URI (``mlruns``: a local folder)."""

    mlflow: str | None = None
    # The MLflow experiment the run is logged under (default: the spec's name).
    experiment: str | None = None
