"""The spec's schema: every section and key, with its type, default and checks."""

from __future__ import annotations

import difflib
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    field_validator,
    model_validator,
)

from lstmctl.spec.base import Count32, Strict, check_part
from lstmctl.spec.evaluate_schema import EvaluateSpec, TrackingSpec
from lstmctl.spec.tune_config import TuneSpec
from lstmctl.spec.vocabulary import (
    ACTIVATIONS,
    LOSSES,
    OPTIMIZERS,
    architectures,
    check_name,
)


class ScaleSpec(Strict):
    """How input and target values are scaled (fitted on the training part only)."""

    kind: Literal["minmax", "standard", "none"] = "minmax"
    range: tuple[float, float] = (0.0, 1.0)
    # One scaler per series (fitted on that series' training part) or one for all
    # of them. null: ``series`` when data.series names a panel's series (their
    # levels may differ by orders of magnitude); one series has one scaler anyway.
    per: Literal["series", "global"] | None = None

    @field_validator("range")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not v[0] < v[1]:
            raise ValueError(f"range must be [low, high] with low < high, found {list(v)}")
        # An endless range scales every value to nan, a subnormal one rounds them away.
        if not 1e-300 <= v[1] - v[0] < float("inf"):
            raise ValueError(
                f"range must be [low, high] with high - low finite and >= 1e-300, found {list(v)}"
            )
        return v


class TransformSpec(Strict):
    """A value transform undone before scoring: ``difference`` (with a lag) or ``log``."""

    kind: Literal["difference", "log"]
    lag: PositiveInt = 1

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: Any) -> Any:
        # `transforms: [difference]` is the common short form.
        return {"kind": v} if isinstance(v, str) else v


class WindowSpec(Strict):
    """Framing as supervised learning: ``lookback`` steps in, ``horizon`` steps out."""

    lookback: PositiveInt = 1
    horizon: PositiveInt = 1


class SplitSpec(Strict):
    """The test part is the last ``test`` rows (an int) or that fraction of the rows.

    ``validation`` is carved from the end of the training part the same way
    (0: no validation).
    """

    test: int | float = 0.2
    validation: int | float = 0

    @field_validator("test")
    @classmethod
    def _test(cls, v: int | float) -> int | float:
        return check_part(v, "test", allow_zero=False)

    @field_validator("validation")
    @classmethod
    def _validation(cls, v: int | float) -> int | float:
        return check_part(v, "validation", allow_zero=True)


class DataSpec(Strict):
    """Where the data comes from and how it is prepared."""

    path: str | None = None
    problem: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    time: str | list[str] | None = None
    target: list[str] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    missing: Literal["drop", "ffill", "interpolate", "mask"] = "interpolate"
    coerce: bool = False
    mask_value: float = -10.0
    transforms: list[TransformSpec] = Field(default_factory=list)
    scale: ScaleSpec = Field(default_factory=ScaleSpec)
    window: WindowSpec = Field(default_factory=WindowSpec)
    split: SplitSpec = Field(default_factory=SplitSpec)
    # A panel: many series in one long table, one model for all (README, "Many
    # series: panels"). ``series`` names the column(s) telling the series apart;
    # ``time`` orders the rows of each.
    series: list[str] | None = None
    # Future-known covariates: each input step carries their values at that step
    # and at the ``horizon`` steps after it, so a window's last step holds them
    # for every forecast step. Without ``series`` (known, calendar): one series,
    # prepared as a panel of one (``is_panel``).
    known: list[str] = Field(default_factory=list)
    # Derived from ``time`` (sin/cos of month, quarter, dayofweek, hour, ...): known ahead.
    calendar: list[str] = Field(default_factory=list)
    # Constant within each series (one-hot when also in ``categorical``, else scaled).
    static: list[str] = Field(default_factory=list)
    # A series too short for lookback + horizon + its test part: an error, or left out.
    short_series: Literal["error", "skip"] = "error"
    # Series a derived spec leaves out before any is prepared, by id, with why (not a
    # key of the spec file; see lstmctl.spec.derive.leaving_out).
    _left_out: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("target", "series", mode="before")
    @classmethod
    def _one_or_more(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _source(self) -> DataSpec:
        if (self.path is None) == (self.problem is None):
            raise ValueError(
                "give exactly one of data.path (a CSV file) or data.problem (a generated "
                f"problem), found {'both' if self.path else 'neither'}"
            )
        if self.path is not None and not self.target:
            raise ValueError(
                "data.target is required with data.path: name the column(s) to forecast"
            )
        # A table's columns are checked against its header first, when it is read
        # (lstmctl.data.loading): a typo in data.static is named there, not as a
        # categorical column missing from data.static.
        stray = self.stray_categorical() if self.path is None else None
        if stray:
            raise ValueError(f"data.categorical must name columns {stray}")
        self._check_panel()
        return self

    def stray_categorical(self) -> str | None:
        """``categorical``'s names not among ``features`` or ``static`` (and the nearest
        listed name), as ``listed in ..., found [...]``; None when there are none."""
        listed = [*self.features, *self.static]
        stray = [c for c in self.categorical if c not in listed]
        if not stray:
            return None
        near = difflib.get_close_matches(stray[0], listed, n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        return f"listed in data.features or data.static, found {stray}{hint}"

    @property
    def left_out(self) -> dict[str, str]:
        """The series ids a derived spec leaves out, and why (:func:`leaving_out`)."""
        return self._left_out

    @property
    def is_panel(self) -> bool:
        """Whether the data is prepared as a panel: many series (``series``), or one
        series with covariates known ahead (``known``, ``calendar``), read as a panel of
        one series (the panel path is where future-known inputs are built)."""
        return self.series is not None or bool(self.known or self.calendar)

    def _check_panel(self) -> None:
        """The panel keys: ``static`` only with ``series``; ``known`` and ``calendar`` with a
        time column (one series is a panel of one); each column once."""
        if self.series is None:
            if self.static:
                raise ValueError(
                    "data.static needs data.series (a panel of series in long format), "
                    "found none; name the column telling the series apart (one series has "
                    "no attributes that vary between series)"
                )
            if not self.is_panel:
                return
            key = "data.known" if self.known else "data.calendar"
            if self.time is None:
                raise ValueError(f"{key} needs data.time: the column ordering the rows")
            if self.problem is not None:
                raise ValueError(f"{key} needs data.path (a table), found data.problem")
        else:
            if not self.series:
                raise ValueError("data.series must name at least one column, found []")
            if self.time is None:
                raise ValueError("data.series needs data.time: the column ordering each series")
            if self.problem is not None:
                raise ValueError("data.series needs data.path (a long table), found data.problem")
        cats = [c for c in self.known if c in self.categorical]
        if cats:
            raise ValueError(
                f"data.known must be numeric for now, found {cats} in data.categorical "
                "(give a 0/1 column per category)"
            )
        seen: dict[str, str] = {}
        for key in ("series", "target", "features", "known", "static"):
            for col in getattr(self, key) or []:
                if seen.get(col, key) != key:  # repeats within one key: loading says
                    raise ValueError(
                        f"expected each column in one role, found {col!r} in data.{seen[col]} "
                        f"and data.{key}"
                    )
                seen[col] = key


class ModelSpec(Strict):
    """The architecture (by registry name) and its settings."""

    arch: str = "vanilla"
    units: PositiveInt | list[PositiveInt] = 4
    layers: PositiveInt | None = None
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    recurrent_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    activation: str = "tanh"
    output_activation: str = "linear"
    stateful: bool = False
    # Options of the architecture suite; each architecture reads the ones it needs.
    # encoder_decoder, attention: decoder LSTM sizes (default: the encoder's last size).
    decoder_units: PositiveInt | list[PositiveInt] | None = None
    # cnn_lstm: the convolutional front applied to every time step.
    filters: PositiveInt = 32
    kernel_size: PositiveInt = 3
    pool_size: PositiveInt = 2
    # cnn_lstm on a plain series: cut the window into this many subsequences.
    subsequences: PositiveInt | None = None
    # bidirectional: which way the LSTM reads, and how both directions are merged.
    direction: Literal["forward", "backward", "both"] = "both"
    merge_mode: Literal["concat", "sum", "mul", "ave"] = "concat"
    # attention: dot-product (Luong) or additive (Bahdanau) scores.
    attention: Literal["dot", "additive"] = "dot"
    # generative: size of a learned token embedding (none: one-hot tokens straight in).
    embedding: PositiveInt | None = None
    # A panel (data.series): a learned embedding of this size of each series' id,
    # beside every input step (none: the model tells series apart by their values).
    series_embedding: PositiveInt | None = None

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, v: str) -> str:
        return check_name(v, architectures(), "architecture")

    @field_validator("activation", "output_activation")
    @classmethod
    def _known_activation(cls, v: str) -> str:
        return check_name(v, ACTIVATIONS, "activation")


class EarlyStoppingSpec(Strict):
    """Stop a repeat when ``monitor`` has not improved for ``patience`` epochs."""

    monitor: Literal["val_loss", "loss"] = "val_loss"
    patience: Count32 = 10
    min_delta: float = Field(0.0, ge=0.0)
    restore_best: bool = True


class TrainSpec(Strict):
    """How each repeat is fitted (lesson 4's compile and fit steps)."""

    epochs: Count32 = 100
    batch_size: Count32 = 32
    optimizer: str = "adam"
    learning_rate: PositiveFloat | None = None
    loss: str = "mse"
    shuffle: bool | None = None
    early_stopping: EarlyStoppingSpec | None = None
    # backend tensorflow: fit the repeats in this many worker processes
    # (the compiled JAX trainer fits them all at once and ignores it).
    jobs: PositiveInt = 1

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, v: str) -> str:
        return check_name(v, OPTIMIZERS, "optimizer")

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, v: str) -> str:
        return check_name(v, LOSSES, "loss")


class Spec(Strict):
    """A whole experiment."""

    name: str = "experiment"
    seed: int = 1
    backend: Literal["auto", "tensorflow"] = "auto"
    runs_dir: str = "runs"
    data: DataSpec
    model: ModelSpec = Field(default_factory=ModelSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    evaluate: EvaluateSpec = Field(default_factory=EvaluateSpec)
    # Variants run side by side, each a --set style override (or a list of them).
    compare: list[str | list[str]] = Field(default_factory=list)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    # `lstmctl tune`: a search space over the keys above (ignored by `run`).
    tune: TuneSpec | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Spec:
        if self.train.shuffle is None:
            # A stateful LSTM carries state from batch to batch: order matters.
            self.train.shuffle = not self.model.stateful
        elif self.train.shuffle and self.model.stateful:
            raise ValueError(
                "train.shuffle must be false for a stateful model (its state flows from one "
                "batch to the next), found true"
            )
        es = self.train.early_stopping
        if es is not None and es.monitor == "val_loss" and not self.data.split.validation:
            raise ValueError(
                "train.early_stopping.monitor is val_loss but data.split.validation is 0: "
                "set a validation split or monitor: loss"
            )
        return self

    def dump(self) -> dict[str, Any]:
        """The resolved spec as plain data, every default included."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.dump(), sort_keys=False, default_flow_style=None)
