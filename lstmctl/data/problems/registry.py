"""The problem registry: seeded generators of the lessons' data, by name.

A problem is one decorated function in one module of this package::

    class Params(ProblemParams):
        length: PositiveInt = 5

    @register_problem("echo", "One-line summary for `lstmctl list problems`.", Params)
    def generate(params: Params, rng: np.random.Generator) -> Generated: ...

Its sizes are ``params`` (``data.params`` in a spec, validated with the
same did-you-mean errors as the spec), its randomness comes only from
``rng``, so the same seed gives the same data.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveInt, ValidationError

from lstmctl.errors import SpecError


class ProblemParams(BaseModel):
    """Base of every problem's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    def nbytes(self) -> int:
        """About how many bytes generating the data takes at its peak (0: not known here).

        A lower bound from the sizes alone, so that data no machine could hold is
        refused before the generator allocates it (see :mod:`lstmctl.memory`).
        """
        return 0


class SampledParams(ProblemParams):
    """Parameters of a problem made of independent random sequences."""

    # How many sequences to generate (training, validation and test together;
    # data.split says how they are shared out).
    samples: PositiveInt = 1000


@dataclass
class Generated:
    """A generated data set, before it is split.

    ``X`` is ``(n, steps, n_inputs)`` (or ``(n, steps, *frame)`` for images)
    and ``y`` is ``(n, horizon, n_targets)``: real values for regression; for
    classification one-hot over ``classes`` (or a single 0/1 column when
    there are two classes).
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    input_names: list[str]
    target_names: list[str]
    classes: list[str] = field(default_factory=list)
    per_step: bool = False
    input_vocab: int | None = None
    # The naive forecast for regression problems (same shape as y), if one makes sense.
    persistence: np.ndarray | None = None
    # JSON-able facts a later stage needs (a text's vocabulary, ...).
    state: dict[str, Any] = field(default_factory=dict)


Generator = Callable[[Any, np.random.Generator], Generated]


@dataclass(frozen=True)
class ProblemEntry:
    name: str
    summary: str
    params: type[ProblemParams]
    generate: Generator


_REGISTRY: dict[str, ProblemEntry] = {}
_BUILTINS = (
    "lstmctl.data.problems.echo",
    "lstmctl.data.problems.damped_sine",
    "lstmctl.data.problems.moving_line",
    "lstmctl.data.problems.addition",
    "lstmctl.data.problems.cumsum",
    "lstmctl.data.problems.echo_first",
    "lstmctl.data.problems.text",
)


def register_problem(
    name: str, summary: str, params: type[ProblemParams] = ProblemParams
) -> Callable[[Generator], Generator]:
    """Register ``generate(params, rng) -> Generated`` under ``name``."""

    def wrap(fn: Generator) -> Generator:
        if name in _REGISTRY and _REGISTRY[name].generate is not fn:
            raise ValueError(f"problem {name!r} is registered twice")
        _REGISTRY[name] = ProblemEntry(name, summary, params, fn)
        return fn

    return wrap


def _load_builtins() -> None:
    for module in _BUILTINS:
        importlib.import_module(module)


def problems() -> dict[str, str]:
    """Registered problem names and their one-line summaries."""
    _load_builtins()
    return {name: e.summary for name, e in sorted(_REGISTRY.items())}


def get_problem(name: str) -> ProblemEntry:
    _load_builtins()
    if name not in _REGISTRY:
        raise SpecError(
            f"unknown problem {name!r}; known: {', '.join(sorted(_REGISTRY))}",
            where="data.problem",
        )
    return _REGISTRY[name]


def parse_params(entry: ProblemEntry, raw: dict[str, Any]) -> ProblemParams:
    """Validate ``data.params`` for a problem; errors name ``data.params.KEY``."""
    try:
        return entry.params.model_validate(raw)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        key = ".".join(str(p) for p in first["loc"])
        known = list(entry.params.model_fields)
        if first["type"] == "extra_forbidden":
            near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean data.params.{near[0]}?" if near else ""
            msg = f"unknown parameter of problem {entry.name}; {hint or 'known: '}"
            if not near:
                msg += ", ".join(known)
        elif first["type"] == "value_error":
            msg = f"{entry.name}: {first['msg'].removeprefix('Value error, ')}"
        else:
            text = first["msg"].replace("Input should be ", "")
            msg = f"{entry.name}: expected {text}, found {first['input']!r}"
        # A check across parameters (a model validator) has no key of its own.
        raise SpecError(msg, where=f"data.params.{key}" if key else "data.params") from None
