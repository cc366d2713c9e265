"""CNN LSTM: a convolutional front reads each time step, an LSTM reads the steps (lesson 7).

Every step of the window goes through the same small CNN —
``TimeDistributed(Conv, MaxPooling, Flatten)`` — and the LSTM reads the
sequence of extracted features. The convolution follows the step's rank: a
frame ``(height, width, channels)`` gets ``Conv2D``, a step that is itself a
sequence ``(length, features)`` gets ``Conv1D``. A plain series (one vector
per step) is first cut into ``model.subsequences`` subsequences, each read
by a ``Conv1D`` (the course's CNN LSTM for time series).
"""

from __future__ import annotations

import math
from typing import Any

from lstmctl.errors import SpecError
from lstmctl.models import size
from lstmctl.models.blocks import Graph, lstm_stack, units_per_layer
from lstmctl.models.heads import output_head
from lstmctl.models.registry import Shapes, register
from lstmctl.spec import ModelSpec


def _step(spec: ModelSpec, shapes: Shapes) -> tuple[int, ...]:
    """The shape of one step as the CNN reads it (a subsequence of a plain series)."""
    if shapes.step_shape:
        return shapes.step_shape
    if spec.subsequences is None:
        raise SpecError(
            "cnn_lstm on a series of vectors needs model.subsequences: N (the window of "
            f"{shapes.lookback} steps is cut into N subsequences, each read by the CNN), "
            "found none",
            where="model.subsequences",
        )
    sub = spec.subsequences
    if shapes.lookback % sub or shapes.per_step:
        why = "one output per step" if shapes.per_step else f"lookback {shapes.lookback}"
        raise SpecError(
            f"expected model.subsequences to divide the window evenly, found {sub} with {why}",
            where="model.subsequences",
        )
    return (shapes.lookback // sub, shapes.n_inputs)


def check(spec: ModelSpec, shapes: Shapes) -> None:
    if shapes.mask_value is not None:
        raise SpecError(
            "cnn_lstm cannot skip missing steps (a convolution mixes them with observed "
            "ones); use data.missing: interpolate, ffill or drop",
            where="data.missing",
        )
    step = _step(spec, shapes)
    if len(step) not in (2, 3):
        raise SpecError(
            f"cnn_lstm reads steps of rank 2 (Conv1D) or 3 (Conv2D), found a step of shape {step}",
            where="model.arch",
        )
    units_per_layer(spec, 1)


def parameters(spec: ModelSpec, shapes: Shapes) -> int:
    step = shapes.step_shape or (shapes.lookback // (spec.subsequences or 1), shapes.n_inputs)
    *space, channels = step
    conv = spec.kernel_size ** len(space) * channels * spec.filters + spec.filters
    # "same" padding, then pooling: each spatial size divided by pool_size, rounded up.
    pooled = math.prod(-(-d // spec.pool_size) for d in space) * spec.filters
    weights, width = size.stack(pooled, spec, default_layers=1)
    return conv + weights + size.head(width, shapes)


@register(
    "cnn_lstm",
    "TimeDistributed CNN (Conv1D/Conv2D by input rank, pooling, flatten) feeding an LSTM "
    "(lesson 7).",
    parameters=parameters,
    check=check,
)
def build(spec: ModelSpec, shapes: Shapes) -> Any:
    import keras

    check(spec, shapes)
    fixed = shapes.batch_size if shapes.state_mode == "native" else None
    step_shape = shapes.step_shape or (shapes.n_inputs,)
    inp = keras.Input(shape=(shapes.lookback, *step_shape), batch_size=fixed, name="window")
    step = _step(spec, shapes)
    x = inp
    if not shapes.step_shape:  # a plain series, cut into subsequences
        x = keras.layers.Reshape((shapes.lookback // step[0], *step), name="subsequences")(inp)
    conv, pool = (
        (keras.layers.Conv1D, keras.layers.MaxPooling1D)
        if len(step) == 2
        else (keras.layers.Conv2D, keras.layers.MaxPooling2D)
    )
    td = keras.layers.TimeDistributed
    # "same" padding: a step smaller than the kernel or the pool still works.
    x = td(conv(spec.filters, spec.kernel_size, activation="relu", padding="same"), name="conv")(x)
    x = td(pool(spec.pool_size, padding="same"), name="pool")(x)
    x = td(keras.layers.Flatten(), name="flatten")(x)
    graph = Graph(x=x, inputs=[inp])
    lstm_stack(
        graph, units_per_layer(spec, 1), spec, shapes, last_returns_sequences=shapes.per_step
    )
    return graph.model(output_head(graph, spec, shapes), name="cnn_lstm")
