"""The search space: dotted spec keys, each with choices or a range.

``model.units: [1, 2, 4]`` is a list of choices (a list is always a list of
choices, so ``model.units: [[32, 16], [64]]`` chooses between two stacks);
``train.learning_rate: {low: 1e-4, high: 1e-2, log: true}`` is a range, and
``{low: 0.0, high: 0.5, step: 0.1}`` a stepped one. Every key is checked
against the spec's own model (an unknown key gets a did-you-mean) and every
choice, and both ends of every range, are validated as values of that key.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import random
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from lstmctl.errors import SpecError
from lstmctl.spec.derive import base_raw, derive
from lstmctl.spec.schema import Spec

# Keys a trial may change. The seed is not a hyperparameter (repeats vary it),
# and evaluate/tune/backend describe the study itself, not a configuration.
TUNABLE = ("data", "model", "train")
_RANGE_KEYS = ("low", "high", "log", "step")
_SCALAR = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Choices:
    """A key that takes one of a list of values."""

    key: str
    values: tuple[Any, ...]

    @property
    def encoded(self) -> bool:
        # Optuna's categorical choices must be scalars: lists and mappings
        # (a stack of layer sizes, a transform list) travel as JSON text.
        return not all(isinstance(v, _SCALAR) for v in self.values)

    def options(self) -> list[Any]:
        if self.encoded:
            return [json.dumps(v, sort_keys=True) for v in self.values]
        return list(self.values)

    def grid(self) -> list[Any]:
        return self.options()

    def decode(self, value: Any) -> Any:
        return json.loads(value) if self.encoded and isinstance(value, str) else value

    def suggest(self, trial: Any) -> Any:
        return self.decode(trial.suggest_categorical(self.key, self.options()))

    @property
    def finite(self) -> bool:
        return True


@dataclass(frozen=True)
class Range:
    """A key that takes a number between ``low`` and ``high`` (on a log scale, or in steps)."""

    key: str
    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    @property
    def finite(self) -> bool:
        return self.step is not None or (self.integer and not self.log)

    def grid(self) -> list[Any]:
        if not self.finite:
            raise ValueError("a grid needs choices or a range with a step")
        if self.integer:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        step = float(self.step or 1.0)
        n = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        return [round(self.low + i * step, 12) for i in range(n)]

    def decode(self, value: Any) -> Any:
        return int(value) if self.integer else float(value)

    def suggest(self, trial: Any) -> Any:
        if self.integer:
            return trial.suggest_int(
                self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)


Dimension = Choices | Range


# --------------------------------------------------------------------------- parsing


def parse_space(space: dict[str, Any], source: str = "spec") -> list[Dimension]:
    """``tune.space`` as dimensions, in the order written."""
    return [
        _dimension(key, value, f"{source}: tune.space.{key}")
        for key, value in flatten_space(space).items()
    ]


def flatten_space(space: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{model: {units: [..]}}`` (what ``--set tune.space.model.units=..`` makes) as
    ``{"model.units": [..]}``; a mapping with neither low nor high is a section."""
    flat: dict[str, Any] = {}
    for key, value in space.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and not ({"low", "high"} & set(value)):
            flat.update(flatten_space(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _dimension(key: str, value: Any, where: str) -> Dimension:
    if isinstance(value, list):
        if not value:
            raise SpecError("expected at least one choice, found an empty list", where)
        return Choices(key, tuple(value))
    if not isinstance(value, dict):
        raise SpecError(
            "expected a list of choices ([1, 2, 4]) or a range ({low: 1, high: 8}), "
            f"found {value!r}",
            where,
        )
    for k in value:
        if k not in _RANGE_KEYS:
            near = difflib.get_close_matches(str(k), _RANGE_KEYS, n=1, cutoff=0.5)
            hint = f"did you mean {near[0]}?" if near else f"a range takes {', '.join(_RANGE_KEYS)}"
            raise SpecError(f"unknown range key {k!r}; {hint}", where)
    missing = [k for k in ("low", "high") if k not in value]
    if missing:
        raise SpecError(f"a range needs low and high, found no {' or '.join(missing)}", where)
    low, high, step = value["low"], value["high"], value.get("step")
    log = value.get("log", False)
    for name, v in (("low", low), ("high", high), ("step", step)):
        if (v is not None or name != "step") and (
            isinstance(v, bool) or not isinstance(v, int | float) or not abs(v) < math.inf
        ):
            raise SpecError(f"range {name} must be a finite number, found {v!r}", where)
    if not isinstance(log, bool):
        raise SpecError(f"range log must be true or false, found {log!r}", where)
    if not low < high:
        raise SpecError(f"a range needs low < high, found low={low}, high={high}", where)
    if step is not None and step <= 0:
        raise SpecError(f"range step must be positive, found {step}", where)
    if log and low <= 0:
        raise SpecError(f"a log range needs low > 0, found {low}", where)
    if log and step is not None:
        raise SpecError("a range is either on a log scale or stepped, found both", where)
    integer = all(isinstance(v, int) for v in (low, high, step) if v is not None)
    return Range(key, float(low), float(high), log, None if step is None else step, integer)


# --------------------------------------------------------------------------- checking


def check_space(spec: Any, source: str = "spec") -> list[Dimension]:
    """Check ``spec.tune`` against the spec; resolve its default strategy. Returns the space."""
    tune = spec.tune
    dims = parse_space(tune.space, source)
    base = base_raw(spec)
    for dim in dims:
        where = f"{source}: tune.space.{dim.key}"
        _check_key(dim.key, Spec, where)
        candidates = list(dim.values) if isinstance(dim, Choices) else [_end(dim, dim.low)]
        if isinstance(dim, Range):
            candidates.append(_end(dim, dim.high))
        for value in candidates:
            _check_value(spec, base, dim.key, value, where)

    finite = all(d.finite for d in dims)
    if tune.strategy is None:
        tune.strategy = "grid" if finite else "tpe"
    if tune.strategy == "grid":
        for d in dims:
            if not d.finite:
                raise SpecError(
                    "strategy grid needs choices or a stepped range "
                    "({low, high, step}); use strategy random or tpe for a continuous range",
                    f"{source}: tune.space.{d.key}",
                )
    elif tune.trials is None and tune.timeout is None:
        raise SpecError(
            f"strategy {tune.strategy} needs a budget: set tune.trials or tune.timeout",
            f"{source}: tune",
        )
    epochs = tune.pruning.epochs
    if epochs is not None:
        if spec.backend != "auto":
            raise SpecError(
                "epoch pruning reads learning curves from the compiled trainer: it needs "
                f"backend: auto, found {spec.backend}",
                f"{source}: tune.pruning.epochs",
            )
        searched = {d.key for d in dims}
        if (
            epochs.monitor == "val_loss"
            and not spec.data.split.validation
            and "data.split.validation" not in searched
        ):
            raise SpecError(
                "monitor val_loss needs a validation split (data.split.validation), found 0; "
                "set one or monitor: loss",
                f"{source}: tune.pruning.epochs.monitor",
            )
    return dims


def _end(dim: Range, v: float) -> Any:
    return int(v) if dim.integer else v


def _check_key(key: str, root: type[BaseModel], where: str) -> None:
    parts = key.split(".")
    if any(not p for p in parts):
        raise SpecError(f"expected a dotted spec key like model.units, found {key!r}", where)
    if parts[0] == "seed":
        raise SpecError(
            "the seed is not a hyperparameter: every trial already runs its repeats with "
            "seeds seed, seed+1, ... (tune.repeats sets how many)",
            where,
        )
    model: type[BaseModel] = root
    for i, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            above = ".".join(parts[:i])
            near = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.6)
            if near:
                hint = f"did you mean {'.'.join([*parts[:i], near[0], *parts[i + 1 :]])}?"
            else:
                hint = f"valid keys {'in ' + above if above else 'here'}: {', '.join(fields)}"
            raise SpecError(f"unknown key {key!r}; {hint}", where)
        if i == 0 and part not in TUNABLE:
            raise SpecError(
                f"{part} cannot be searched: a trial changes data.*, model.* or train.* keys",
                where,
            )
        if i == len(parts) - 1:
            return
        annotation = fields[part].annotation
        sub = _submodel(annotation)
        if sub is None:
            if _is_mapping(annotation):
                return  # free-form parameters (data.params.*): checked by their user
            raise SpecError(
                f"{'.'.join(parts[: i + 1])} is a value, not a section; cannot search {key}", where
            )
        model = sub


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


def _is_mapping(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return annotation is dict or origin is dict


def _check_value(spec: Any, base: dict[str, Any], key: str, value: Any, where: str) -> None:
    try:
        derive(spec, {key: value}, base=base, source="trial")
    except SpecError as e:
        inner = (e.where or "").removeprefix("trial: ")
        detail = f"{inner}: {e.message}" if inner and inner != key else e.message
        raise SpecError(f"{value!r} is not a valid choice ({detail})", where) from None


# --------------------------------------------------------------------------- trials


def grid_points(dims: list[Dimension], seed: int) -> list[dict[str, Any]]:
    """Every combination (Optuna's encoded values), in a seeded random order.

    A random order makes a grid cut short (by a time budget or a trial
    budget) a fair sample of the whole grid rather than one corner of it.
    """
    points = [
        dict(zip([d.key for d in dims], combo, strict=True))
        for combo in itertools.product(*(d.grid() for d in dims))
    ]
    random.Random(seed).shuffle(points)
    return points


def decode(dims: list[Dimension], params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's stored values -> spec values (JSON text back to lists)."""
    by_key = {d.key: d for d in dims}
    return {k: by_key[k].decode(v) if k in by_key else v for k, v in params.items()}
