"""The experiment spec: YAML in, one validated, typed object out.

``load_spec(path, overrides)`` is the only place YAML is read. Everything
downstream receives a :class:`Spec`. Errors name the file and the dotted key,
say what was expected and what was found, and suggest the nearest key for a
typo.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lstmctl.errors import SpecError, undecodable
from lstmctl.tuning.config import TuneSpec
from lstmctl.vocabulary import (
    ACTIVATIONS,
    LOSSES,
    OPTIMIZERS,
    architectures,
    check_name,
    did_you_mean,
)

# Counts the compiled trainer compares with its 32-bit counters (epochs, patience,
# batches): past 2**31 - 1, JAX refuses them.
Count32 = Annotated[int, Field(gt=0, le=2**31 - 1)]
# Every seed a run derives (seed + i for repeat i) goes to NumPy's and Keras'
# generators, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def _kinds(annotation: Any) -> set[Any]:
    """The types a field accepts, through ``X | Y`` and ``Annotated`` (not into lists)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kinds(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return set().union(*(_kinds(a) for a in get_args(annotation)))
    return {annotation}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, v: Any, info: ValidationInfo) -> Any:
        # Pydantic reads true as 1 where a number is expected; in a spec that is a
        # mistake (`test: yes`, `epochs: true`), not a count.
        if isinstance(v, bool) and info.field_name in cls.model_fields:
            kinds = _kinds(cls.model_fields[info.field_name].annotation)
            if kinds & {int, float} and bool not in kinds:
                raise ValueError(f"expected a number, found {str(v).lower()}")
        return v


class ScaleSpec(_Strict):
    """How input and target values are scaled (fitted on the training part only)."""

    kind: Literal["minmax", "standard", "none"] = "minmax"
    range: tuple[float, float] = (0.0, 1.0)

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


class TransformSpec(_Strict):
    """A value transform undone before scoring: ``difference`` (with a lag) or ``log``."""

    kind: Literal["difference", "log"]
    lag: PositiveInt = 1

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: Any) -> Any:
        # `transforms: [difference]` is the common short form.
        return {"kind": v} if isinstance(v, str) else v


class WindowSpec(_Strict):
    """Framing as supervised learning: ``lookback`` steps in, ``horizon`` steps out."""

    lookback: PositiveInt = 1
    horizon: PositiveInt = 1


def _check_part(v: int | float, key: str, allow_zero: bool) -> int | float:
    if isinstance(v, bool):
        raise ValueError(f"{key} must be a number of rows or a fraction, found {v!r}")
    if isinstance(v, float) and not v.is_integer():
        if not 0.0 < v < 1.0:
            raise ValueError(f"a fraction for {key} must lie in (0, 1), found {v}")
        return v
    n = int(v)
    if n < 0 or (n == 0 and not allow_zero):
        raise ValueError(f"{key} must be {'>= 0' if allow_zero else '> 0'} rows, found {n}")
    return n


class SplitSpec(_Strict):
    """The test part is the last ``test`` rows (an int) or that fraction of the rows.

    ``validation`` is carved from the end of the training part the same way
    (0: no validation).
    """

    test: int | float = 0.2
    validation: int | float = 0

    @field_validator("test")
    @classmethod
    def _test(cls, v: int | float) -> int | float:
        return _check_part(v, "test", allow_zero=False)

    @field_validator("validation")
    @classmethod
    def _validation(cls, v: int | float) -> int | float:
        return _check_part(v, "validation", allow_zero=True)


class DataSpec(_Strict):
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

    @field_validator("target", mode="before")
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
        stray = [c for c in self.categorical if c not in self.features]
        if stray:
            raise ValueError(
                f"data.categorical must name columns listed in data.features, found {stray}"
            )
        return self


class ModelSpec(_Strict):
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

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, v: str) -> str:
        return check_name(v, architectures(), "architecture")

    @field_validator("activation", "output_activation")
    @classmethod
    def _known_activation(cls, v: str) -> str:
        return check_name(v, ACTIVATIONS, "activation")


class EarlyStoppingSpec(_Strict):
    """Stop a repeat when ``monitor`` has not improved for ``patience`` epochs."""

    monitor: Literal["val_loss", "loss"] = "val_loss"
    patience: Count32 = 10
    min_delta: float = Field(0.0, ge=0.0)
    restore_best: bool = True


class TrainSpec(_Strict):
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


Metric = Literal["rmse", "mae", "mape", "accuracy", "sequence_accuracy"]


UpdateScheme = Literal["none", "fine-tune", "fine-tune-all", "refit"]


class UpdateSpec(_Strict):
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


class EvaluateSpec(_Strict):
    """How skill is estimated: R repeats, metrics in original units, a baseline."""

    repeats: PositiveInt = 10
    metrics: list[Metric] = Field(default_factory=lambda: list[Metric](["rmse", "mae"]))
    baseline: Literal["persistence", "majority", "none"] = "persistence"
    # Lesson 13's update experiment, run after the repeats (none: not run).
    update: UpdateSpec | None = None

    @field_validator("metrics")
    @classmethod
    def _some(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("list at least one metric")
        return list(dict.fromkeys(v))


class TrackingSpec(_Strict):
    """Optional experiment tracking: ``mlflow`` is a tracking URI (``mlruns``: a local folder)."""

    mlflow: str | None = None
    # The MLflow experiment the run is logged under (default: the spec's name).
    experiment: str | None = None


class Spec(_Strict):
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


# --------------------------------------------------------------------------- loading


def load_spec(path: str | Path, overrides: Iterable[str] = ()) -> Spec:
    """Read a YAML spec, apply ``key.path=value`` overrides and validate it."""
    path = Path(path)
    if not path.exists():
        raise SpecError("spec file not found", where=str(path))
    if path.is_dir():
        raise SpecError("expected a YAML file, found a directory", where=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line, found = undecodable(e)
        raise SpecError(
            f"expected UTF-8 text, {found} ({e.reason}); save the file as UTF-8", f"{path}:{line}"
        ) from None
    raw = parse_yaml(text, str(path))
    if not isinstance(raw, dict):
        found = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise SpecError(
            f"expected a mapping of keys (name:, data:, model:, ...), found {found}", str(path)
        )
    raw.setdefault("name", path.stem)
    for item in overrides:
        apply_override(raw, item)
    spec = validate_spec(raw, source=str(path))
    if spec.data.path is not None:
        spec.data.path = _resolve_data_path(spec.data.path, path)
    if isinstance(spec.data.params.get("path"), str):  # a generated problem's input file
        spec.data.params["path"] = _resolve_data_path(spec.data.params["path"], path)
    return spec


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping.

    PyYAML keeps the last of two equal keys without a word, so a second
    ``model:`` section would silently replace the first. It also lets some bad
    scalars out as plain Python errors (an implicit date ``2020-13-45``,
    ``!!int abc``): those become YAML errors at the value's line and column.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            what = (
                f"{_found(node.value)} as !!{node.tag.rsplit(':', 1)[-1]}"
                if isinstance(node, yaml.ScalarNode)
                else "a value"
            )
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {what} ({reason})", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` keys may be overridden: that is what merging is for
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not key_node:
                a, b = first.start_mark.line + 1, key_node.start_mark.line + 1
                lines = f"on line {a}" if a == b else f"on lines {a} and {b}"
                raise yaml.constructor.ConstructorError(
                    None, None, f"found key {key!r} twice, {lines}; keep one", key_node.start_mark
                )
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, source: str) -> Any:
    """Safe-load YAML, refusing duplicate keys; errors give the line and column."""
    try:
        value = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no Python objects
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        msg = str(e.problem or e)
        cm = e.context_mark
        if e.context and cm is not None and (mark is None or cm.index != mark.index):
            # Where the construct began: an unclosed bracket or quote is found lines later.
            msg += f" ({e.context} at line {cm.line + 1}, column {cm.column + 1})"
        raise SpecError(f"invalid YAML: {msg}", where=where) from None
    except yaml.reader.ReaderError as e:
        # A control character PyYAML will not read; its str() spans two lines.
        line = text.count("\n", 0, e.position) + 1
        column = e.position - text.rfind("\n", 0, e.position)
        code = e.character if isinstance(e.character, int) else ord(e.character)
        raise SpecError(
            f"invalid YAML: found the control character U+{code:04X}, which YAML does not allow",
            where=f"{source}:{line}:{column}",
        ) from None
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {e}", where=source) from None
    except RecursionError:
        raise SpecError(
            f"expected at most {_MAX_DEPTH} levels of nesting, found more",
            where=source,
        ) from None
    _check_size(value, source)
    return value


# Aliases let a few lines of YAML stand for a huge structure (the "billion
# laughs") or an endless one (an alias inside its own anchor). PyYAML shares
# the aliased objects, but validating or printing them expands them: specs
# are small, so anything past these bounds is refused before that happens.
_MAX_VALUES = 100_000
_MAX_DEPTH = 64
# Beyond 64 bits an integer is no count, size or seed (and Python will not
# even print one of more than 4300 digits).
_MAX_INT = 2**63


def _check_size(value: Any, source: str) -> None:
    count = 0

    def walk(v: Any, key: str, depth: int, open_: set[int]) -> None:
        nonlocal count
        count += 1
        where = f"{source}: {key}" if key else source
        if count > _MAX_VALUES:
            raise SpecError(
                f"expected at most {_MAX_VALUES} values, found more (aliases expanding too far?)",
                where=source,
            )
        if isinstance(v, int) and not -_MAX_INT <= v < _MAX_INT:
            raise SpecError(
                f"expected an integer from -2**63 to 2**63-1, found one of {v.bit_length()} bits",
                where=where,
            )
        if isinstance(v, float) and not abs(v) < float("inf"):
            # No setting means .nan or .inf, and a saved spec would turn them into null.
            raise SpecError(f"expected a finite number, found {v}", where=where)
        if not isinstance(v, dict | list | tuple):
            return
        if id(v) in open_:
            raise SpecError(
                "expected no recursive aliases, found a value that contains itself", where=where
            )
        if depth >= _MAX_DEPTH:
            raise SpecError(
                f"expected at most {_MAX_DEPTH} levels of nesting, found more", where=source
            )
        open_.add(id(v))
        for k, item in v.items() if isinstance(v, dict) else enumerate(v):
            sub = (f"{key}.{k}" if key else str(k)) if isinstance(v, dict) else f"{key}[{k}]"
            walk(item, sub, depth + 1, open_)
        open_.discard(id(v))

    walk(value, "", 0, set())


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``--set key.path=value``; the value is YAML (``3``, ``true``, ``[4, 4]``)."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise SpecError(f"expected key.path=value, found {item!r}", where="--set")
    value = parse_yaml(text, f"--set {key}")
    node: Any = raw
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            above = ".".join(parts[: i + 1])
            raise SpecError(f"{above} is a value, not a section; cannot set {key}", where="--set")
        node = child
    node[parts[-1]] = value


def validate_spec(raw: Mapping[str, Any], source: str = "spec") -> Spec:
    """Validate plain data into a Spec, turning pydantic's errors into one SpecError."""
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as e:
        raise _spec_error(e, raw, source) from None
    _check_seeds(spec, source)
    if spec.tune is not None:
        # The search space names spec keys: checked against the spec itself.
        from lstmctl.tuning.space import check_space

        check_space(spec, source)
    return spec


def _check_seeds(spec: Spec, source: str) -> None:
    """The seed, and every seed derived from it, must be one the generators take.

    Repeat i (of a run, a tuning trial, a diagnosis) is seeded with seed + i;
    so the seed is checked with the most repeats the spec asks for.
    """
    tune = spec.tune
    repeats = max(spec.evaluate.repeats, (tune.repeats or 0) if tune else 0)
    if repeats > MAX_SEED + 1:
        key = "evaluate.repeats" if spec.evaluate.repeats == repeats else "tune.repeats"
        raise SpecError(
            f"expected at most 2**32 repeats (repeat i uses seed + i, and seeds go up to "
            f"2**32 - 1), found {repeats}",
            where=f"{source}: {key}",
        )
    highest = MAX_SEED - (repeats - 1)
    if not 0 <= spec.seed <= highest:
        each = f"; repeat i uses seed + i, for {repeats} repeats" if repeats > 1 else ""
        raise SpecError(
            f"expected an integer from 0 to {highest} (seeds go up to 2**32 - 1{each}), "
            f"found {spec.seed}",
            where=f"{source}: seed",
        )
    if tune is not None and tune.seed is not None and not 0 <= tune.seed <= MAX_SEED:
        raise SpecError(
            f"expected an integer from 0 to {MAX_SEED} (2**32 - 1), found {tune.seed}",
            where=f"{source}: tune.seed",
        )


def _resolve_data_path(data_path: str, spec_path: Path) -> str:
    # Relative paths are read from the current directory (the repository root
    # in the README's commands), else from beside the spec file.
    p = Path(data_path)
    if p.is_absolute() or p.exists():
        return str(p)
    beside = spec_path.parent / p
    return str(beside) if beside.exists() else str(p)


# --------------------------------------------------------------------------- errors


# Pydantic adds the branch of a union or the kind of a validator to an
# error's location; a user only needs the keys.
def _key_parts(loc: tuple[Any, ...]) -> list[str]:
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif (
            isinstance(item, str)
            and not any(c in item for c in "[(-")
            and item
            not in {
                "int",
                "float",
                "str",
                "bool",
                "list",
                "dict",
                "tuple",
                "constrained-int",
                "constrained-float",
            }
        ):
            parts.append(item)
    return parts


def _dotted(parts: list[str]) -> str:
    out = ""
    for p in parts:
        out += p if p.startswith("[") or not out else f".{p}"
    return out


def _model_at(parts: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Spec
    for p in parts:
        if model is None or p.startswith("["):
            continue
        field = model.model_fields.get(p)
        if field is None:
            return None
        ann = field.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if model is None:
            for arg in getattr(ann, "__args__", ()):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    model = arg
                elif isinstance(arg, type) is False:
                    for inner in getattr(arg, "__args__", ()):
                        if isinstance(inner, type) and issubclass(inner, BaseModel):
                            model = inner
    return model


def _found(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _spec_error(e: ValidationError, raw: Mapping[str, Any], source: str) -> SpecError:
    errors = e.errors(include_url=False)
    first = errors[0]
    parts = _key_parts(first["loc"])
    # A union (`units: 4` or `units: [4, 8]`) tries every branch: the one that got
    # into the value (a list's item) tells what is wrong with it.
    deeper = [
        err
        for err in errors
        if len(p := _key_parts(err["loc"])) > len(parts) and p[: len(parts)] == parts
    ]
    if deeper and first["type"] != "extra_forbidden":
        first = deeper[0]
        parts = _key_parts(first["loc"])
    key = _dotted(parts) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        # The unknown key is the user's own, whatever it holds (`lstm-units`).
        parts = [*_key_parts(first["loc"][:-1]), str(first["loc"][-1])]
        key = f"{_dotted(parts[:-1])}.{parts[-1]}" if len(parts) > 1 else parts[-1]
        parent = _model_at(parts[:-1])
        known = list(parent.model_fields) if parent else []
        near = difflib.get_close_matches(parts[-1], known, n=1, cutoff=0.6)
        if near:
            hint = f"did you mean {_dotted(parts[:-1] + [near[0]])}?"
        else:
            hint = f"valid keys here: {', '.join(known)}" if known else ""
        msg = f"unknown key; {hint}" if hint else "unknown key"
    elif kind == "missing":
        msg = "required key is missing"
    else:
        # A union reports one error per branch at the same key: say all that was accepted.
        same = [err for err in errors if _key_parts(err["loc"]) == parts]
        expected = "; or ".join(dict.fromkeys(_clean_msg(err["msg"]) for err in same))
        msg = f"expected {expected}, found {_found(first.get('input'))}"
        if kind == "literal_error" and isinstance(first.get("input"), str):
            allowed = str((first.get("ctx") or {}).get("expected", "")).split("'")[1::2]
            msg += did_you_mean(first["input"], allowed)
        if kind == "value_error":
            msg = _clean_msg(first["msg"])
    # Other keys with errors; the union branches that failed at this key (or above it) are not.
    others = [_key_parts(err["loc"]) for err in errors]
    more = len({_dotted(p) for p in others if p != parts[: len(p)]})
    if more > 0:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    # A check across sections (`_coherent`) names its keys itself.
    return SpecError(msg, where=f"{source}: {key}" if parts else source)


def _clean_msg(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    msg = msg.replace("Input should be ", "")
    msg = re.sub(r"a valid dictionary or instance of \w+", "a mapping of keys", msg)
    return msg[0].lower() + msg[1:] if msg else msg
