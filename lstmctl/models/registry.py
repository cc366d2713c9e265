"""The architecture registry.

Adding an architecture is one decorated function in one module of this
package (imported by :func:`_load_builtins`):

    @register("vanilla", "One LSTM layer and a Dense head.", check=check)
    def build(spec: ModelSpec, shapes: Shapes) -> keras.Model: ...

``check(spec, shapes)`` raises the SpecError for a setting the builder
cannot build, without Keras: ``validate`` calls it (:func:`check_model`)
and the builder calls it first, so a spec ``run`` would refuse fails
``validate`` with the same message.

This module imports no Keras, so listing architectures stays instant.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lstmctl.errors import SpecError
from lstmctl.spec import ModelSpec
from lstmctl.spec.vocabulary import add_architecture


@dataclass(frozen=True)
class Shapes:
    """What a builder needs to know about the data and the training set-up."""

    lookback: int
    n_inputs: int
    horizon: int
    n_targets: int
    # Fixed batch size: set for stateful models (Keras needs it), else None.
    batch_size: int | None = None
    # Sentinel of missing inputs: put a Masking layer first when set.
    mask_value: float | None = None
    # How a stateful model keeps its state between batches:
    #   "native"   - Keras' stateful=True layers (the plain `fit` path);
    #   "explicit" - states are extra model inputs (initial h, c per LSTM
    #                layer) and extra outputs (final h, c), carried by the
    #                caller; the compiled JAX trainer uses this.
    state_mode: str = "native"
    # The shape of one input step when it is not a flat vector (an image frame
    # (height, width, channels)); () means (n_inputs,).
    step_shape: tuple[int, ...] = ()
    # One target per input step (sequence labelling): horizon == lookback, aligned.
    per_step: bool = False
    # Inputs are token ids (one per step) from a vocabulary of this size.
    input_vocab: int | None = None
    # A panel's series embedding: (number of series, embedding size). The series'
    # index is then the last input column (see blocks.sequence_input).
    series_embedding: tuple[int, int] | None = None


Builder = Callable[[ModelSpec, Shapes], Any]
# How many weights the builder makes, counted without Keras (see models.size).
Counter = Callable[[ModelSpec, Shapes], int]
# Raises SpecError for what the builder refuses; imports no Keras.
Check = Callable[[ModelSpec, Shapes], None]


@dataclass(frozen=True)
class Entry:
    name: str
    summary: str
    build: Builder
    parameters: Counter | None = None
    check: Check | None = None


_REGISTRY: dict[str, Entry] = {}
_BUILTINS = (
    "lstmctl.models.vanilla",
    "lstmctl.models.stacked",
    "lstmctl.models.cnn_lstm",
    "lstmctl.models.encoder_decoder",
    "lstmctl.models.bidirectional",
    "lstmctl.models.attention",
    "lstmctl.models.generative",
)


def register(
    name: str,
    summary: str = "",
    parameters: Counter | None = None,
    check: Check | None = None,
) -> Callable[[Builder], Builder]:
    """Register ``build(spec, shapes) -> keras.Model`` under ``name``.

    ``parameters(spec, shapes)`` counts the model's weights without building
    it (default: an LSTM stack and a Dense head, see :mod:`lstmctl.models.size`);
    ``check(spec, shapes)`` refuses what the builder cannot build (see above).
    """

    def wrap(fn: Builder) -> Builder:
        if name in _REGISTRY and _REGISTRY[name].build is not fn:
            raise ValueError(f"architecture {name!r} is registered twice")
        doc = summary or (fn.__doc__ or "").strip().splitlines()[0:1]
        summary_ = doc if isinstance(doc, str) else "".join(doc)
        _REGISTRY[name] = Entry(name, summary_, fn, parameters, check)
        add_architecture(name)  # specs may name it from now on
        return fn

    return wrap


def _load_builtins() -> None:
    for module in _BUILTINS:
        importlib.import_module(module)


def architectures() -> dict[str, str]:
    """Registered names and their one-line summaries."""
    _load_builtins()
    return {name: e.summary for name, e in sorted(_REGISTRY.items())}


def get_builder(name: str) -> Builder:
    _load_builtins()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise SpecError(f"unknown architecture {name!r}; known: {known}", where="model.arch")
    return _REGISTRY[name].build


def get_parameters(name: str) -> Counter | None:
    """The weight counter registered with ``name`` (None: the default one)."""
    get_builder(name)
    return _REGISTRY[name].parameters


def check_model(spec: ModelSpec, shapes: Shapes) -> None:
    """Raise the SpecError building ``spec`` for ``shapes`` would, without Keras."""
    get_builder(spec.arch)
    check = _REGISTRY[spec.arch].check
    if check is not None:
        check(spec, shapes)


def build_model(spec: ModelSpec, shapes: Shapes) -> Any:
    """Build the named architecture (a keras.Model)."""
    return get_builder(spec.arch)(spec, shapes)
