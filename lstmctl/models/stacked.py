"""Stacked LSTM: several LSTM layers, each but the last returning sequences (lesson 6)."""

from __future__ import annotations

from typing import Any

from lstmctl.models import size
from lstmctl.models.blocks import dense_head, lstm_stack, sequence_input, units_per_layer
from lstmctl.models.registry import Shapes, register
from lstmctl.spec import ModelSpec


def parameters(spec: ModelSpec, shapes: Shapes) -> int:
    return size.default_parameters(spec, shapes, default_layers=2)


def check(spec: ModelSpec, shapes: Shapes) -> None:
    units_per_layer(spec, default_layers=2)


@register(
    "stacked",
    "N LSTM layers, all but the last returning sequences (lesson 6).",
    parameters=parameters,
    check=check,
)
def build(spec: ModelSpec, shapes: Shapes) -> Any:
    check(spec, shapes)
    graph = sequence_input(shapes)
    lstm_stack(graph, units_per_layer(spec, default_layers=2), spec, shapes)
    return graph.model(dense_head(graph, spec, shapes), name="stacked")
