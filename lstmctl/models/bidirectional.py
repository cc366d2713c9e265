"""Bidirectional LSTM: read the window forwards and backwards, merge both (lesson 9).

``model.direction`` picks ``both`` (``Bidirectional(LSTM)``, merged by
``model.merge_mode``), ``forward`` (a plain LSTM) or ``backward`` (an LSTM
reading the reversed window, its outputs put back in time order), so the
lesson's three-way comparison is one ``--set`` apart with everything else
equal. With one target per input step (sequence labelling) every step gets
an output; otherwise the last step's output makes the forecast.
"""

from __future__ import annotations

from typing import Any

from lstmctl.errors import SpecError
from lstmctl.models import size
from lstmctl.models.blocks import lstm_stack, sequence_input, units_per_layer
from lstmctl.models.heads import output_head
from lstmctl.models.registry import Shapes, register
from lstmctl.spec import ModelSpec


def parameters(spec: ModelSpec, shapes: Shapes) -> int:
    both = spec.direction == "both"
    weights, width = size.stack(
        size.input_width(shapes),
        spec,
        default_layers=1,
        directions=2 if both else 1,
        concat=both and spec.merge_mode == "concat",
    )
    return weights + size.head(width, shapes)


def check(spec: ModelSpec, shapes: Shapes) -> None:
    units_per_layer(spec, 1)
    if spec.stateful and spec.direction != "forward":
        what = "a backward" if spec.direction == "backward" else "a bidirectional (direction: both)"
        raise SpecError(
            f"{what} LSTM reads each window from its end, so no state can carry over from "
            "the previous batch; use direction: forward, or stateful: false",
            where="model.stateful",
        )


@register(
    "bidirectional",
    "Bidirectional(LSTM) with merge_mode; direction: forward | backward | both (lesson 9).",
    parameters=parameters,
    check=check,
)
def build(spec: ModelSpec, shapes: Shapes) -> Any:
    import keras

    check(spec, shapes)
    units = units_per_layer(spec, 1)
    graph = sequence_input(shapes)
    if spec.direction == "forward":
        lstm_stack(graph, units, spec, shapes, last_returns_sequences=shapes.per_step)
        return graph.model(output_head(graph, spec, shapes), name="forward")
    if spec.direction == "backward":
        from lstmctl.models.layers import ReverseTime

        graph.x = ReverseTime(name="reverse_in")(graph.x)
        x = lstm_stack(graph, units, spec, shapes, last_returns_sequences=shapes.per_step)
        if shapes.per_step:
            graph.x = ReverseTime(name="reverse_out")(x)
        return graph.model(output_head(graph, spec, shapes), name="backward")
    x = graph.x
    for i, n in enumerate(units):
        lstm = keras.layers.LSTM(
            n,
            activation=spec.activation,
            dropout=spec.dropout,
            recurrent_dropout=spec.recurrent_dropout,
            return_sequences=shapes.per_step or i < len(units) - 1,
        )
        x = keras.layers.Bidirectional(lstm, merge_mode=spec.merge_mode, name=f"bilstm_{i + 1}")(x)
    graph.x = x
    return graph.model(output_head(graph, spec, shapes), name="bidirectional")
