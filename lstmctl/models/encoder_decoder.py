"""Encoder-decoder LSTM for sequence-to-sequence problems (lesson 8).

The encoder LSTM reads the whole input into one vector; ``RepeatVector``
hands it to every output step; the decoder LSTM returns a sequence and
``TimeDistributed(Dense)`` turns each step into an output. Input and
output lengths are independent: characters in, characters out (addition),
or a window of a real series in, ``horizon`` values out. ``model.units``
sizes the encoder (a list stacks it), ``model.decoder_units`` the decoder
(default: the encoder's last size). The ``attention`` architecture is this
one with the decoder attending over every encoder step.
"""

from __future__ import annotations

from typing import Any

from lstmctl.errors import SpecError
from lstmctl.models import size
from lstmctl.models.blocks import lstm_stack, sequence_input, units_per_layer
from lstmctl.models.heads import step_head
from lstmctl.models.registry import Shapes, register
from lstmctl.spec import ModelSpec


def decoder_sizes(spec: ModelSpec, encoder: list[int]) -> list[int]:
    if spec.decoder_units is None:
        return [encoder[-1]]
    if isinstance(spec.decoder_units, list):
        if not spec.decoder_units:
            raise SpecError("expected at least one layer size, found []", "model.decoder_units")
        return list(spec.decoder_units)
    return [spec.decoder_units]


def seq2seq_parameters(spec: ModelSpec, shapes: Shapes, attention: bool) -> int:
    """The weights :func:`seq2seq` makes: encoder, decoder, attention query, step head."""
    weights, encoded = size.stack(size.input_width(shapes), spec, default_layers=1)
    width = encoded
    for n in decoder_sizes(spec, [encoded]):
        weights += size.lstm(width, n)
        width = n
    if attention:
        if width != encoded:
            weights += size.dense(width, encoded, bias=False)
        width += encoded  # the decoder's output with its context
    return weights + size.dense(width, shapes.n_targets)


def parameters(spec: ModelSpec, shapes: Shapes) -> int:
    return seq2seq_parameters(spec, shapes, attention=False)


def check_seq2seq(spec: ModelSpec, shapes: Shapes, attention: bool) -> None:
    """What :func:`seq2seq` refuses, without Keras."""
    if spec.stateful and attention:
        raise SpecError(
            "attention reads a whole window at a time; a state carried across batches "
            "does not apply, found stateful: true",
            where="model.stateful",
        )
    decoder_sizes(spec, units_per_layer(spec, 1))


def check(spec: ModelSpec, shapes: Shapes) -> None:
    check_seq2seq(spec, shapes, attention=False)


def seq2seq(spec: ModelSpec, shapes: Shapes, attention: bool) -> Any:
    """The encoder-decoder graph, with attention over the encoder's steps or without."""
    import keras

    name = "attention" if attention else "encoder_decoder"
    check_seq2seq(spec, shapes, attention)
    graph = sequence_input(shapes)
    encoder = units_per_layer(spec, 1)
    # With attention the last encoder layer keeps its whole sequence for the decoder
    # to attend over; its last step is the summary every output step starts from.
    lstm_stack(graph, encoder, spec, shapes, last_returns_sequences=attention)
    encoded = graph.x
    summary = encoded
    if attention:
        last = keras.layers.Cropping1D((shapes.lookback - 1, 0), name="last_step")(encoded)
        summary = keras.layers.Flatten(name="summary")(last)
    x = keras.layers.RepeatVector(shapes.horizon, name="repeat")(summary)
    for i, n in enumerate(decoder_sizes(spec, encoder)):
        x = keras.layers.LSTM(
            n,
            activation=spec.activation,
            dropout=spec.dropout,
            recurrent_dropout=spec.recurrent_dropout,
            return_sequences=True,
            name=f"decoder_{i + 1}",
        )(x)
    if attention:
        query = x
        if int(x.shape[-1]) != encoder[-1]:
            # Scores compare a decoder step with an encoder step: same size needed.
            query = keras.layers.Dense(encoder[-1], use_bias=False, name="query")(x)
        layer = (
            keras.layers.Attention(name="attend")
            if spec.attention == "dot"
            else keras.layers.AdditiveAttention(name="attend")
        )
        context = layer([query, encoded])
        x = keras.layers.Concatenate(name="with_context")([x, context])
    return graph.model(step_head(x, spec, shapes), name=name)


@register(
    "encoder_decoder",
    "LSTM encoder -> RepeatVector(horizon) -> LSTM decoder -> TimeDistributed(Dense) (lesson 8).",
    parameters=parameters,
    check=check,
)
def build(spec: ModelSpec, shapes: Shapes) -> Any:
    return seq2seq(spec, shapes, attention=False)
