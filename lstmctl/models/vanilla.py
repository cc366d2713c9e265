"""Vanilla LSTM: one LSTM layer and a Dense output (lesson 5)."""

from __future__ import annotations

from typing import Any

from lstmctl.errors import SpecError
from lstmctl.models.blocks import dense_head, lstm_stack, sequence_input, units_per_layer
from lstmctl.models.registry import Shapes, register
from lstmctl.spec import ModelSpec


def check(spec: ModelSpec, shapes: Shapes) -> None:
    units = units_per_layer(spec, default_layers=1)
    if len(units) != 1:
        raise SpecError(
            f"vanilla has one LSTM layer, found {len(units)}; use arch: stacked for more",
            where="model.units",
        )


@register("vanilla", "One LSTM layer and a Dense head (lesson 5).", check=check)
def build(spec: ModelSpec, shapes: Shapes) -> Any:
    check(spec, shapes)
    graph = sequence_input(shapes)
    lstm_stack(graph, units_per_layer(spec, default_layers=1), spec, shapes)
    return graph.model(dense_head(graph, spec, shapes), name="vanilla")
