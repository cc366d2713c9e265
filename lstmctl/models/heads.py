"""Output heads shared by the architecture suite."""

from __future__ import annotations

from typing import Any

from lstmctl.models.blocks import Graph, dense_head
from lstmctl.models.registry import Shapes
from lstmctl.spec import ModelSpec


def step_head(x: Any, spec: ModelSpec, shapes: Shapes) -> Any:
    """``TimeDistributed(Dense)``: one output vector per step of the sequence ``x``."""
    import keras

    dense = keras.layers.Dense(shapes.n_targets, activation=spec.output_activation)
    return keras.layers.TimeDistributed(dense, name="head")(x)


def output_head(graph: Graph, spec: ModelSpec, shapes: Shapes) -> Any:
    """Per-step outputs for sequence labelling, else ``horizon`` steps from the last output."""
    if shapes.per_step:
        return step_head(graph.x, spec, shapes)
    return dense_head(graph, spec, shapes)
