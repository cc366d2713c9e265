"""Generative LSTM: a language model over characters or words (lesson 11).

The input is a window of tokens, the output the probabilities of the next
one (softmax over the vocabulary); sampling from it token by token, with a
temperature, generates new text (:mod:`lstmctl.serving.generation`). Tokens come
in one-hot, optionally through a learned embedding of ``model.embedding``
dimensions (a bias-free Dense layer: on one-hot vectors, exactly an
embedding lookup), or as ids (``data.params.encoding: index``) through a
Keras ``Embedding``.
"""

from __future__ import annotations

from typing import Any

from lstmctl.errors import SpecError
from lstmctl.models import size
from lstmctl.models.blocks import Graph, dense_head, lstm_stack, sequence_input, units_per_layer
from lstmctl.models.registry import Shapes, register
from lstmctl.spec import ModelSpec


def check(spec: ModelSpec, shapes: Shapes) -> None:
    if shapes.input_vocab is not None and spec.embedding is None:
        raise SpecError(
            f"token ids need an embedding: set model.embedding (e.g. 32) for the "
            f"{shapes.input_vocab} tokens, found none",
            where="model.embedding",
        )
    units_per_layer(spec, 1)


def _token_ids(spec: ModelSpec, shapes: Shapes) -> Graph:
    import keras

    fixed = shapes.batch_size if shapes.state_mode == "native" else None
    inp = keras.Input(shape=(shapes.lookback, 1), batch_size=fixed, name="window")
    x = keras.layers.Reshape((shapes.lookback,), name="ids")(inp)
    x = keras.layers.Embedding(shapes.input_vocab, spec.embedding, name="embedding")(x)
    return Graph(x=x, inputs=[inp])


def parameters(spec: ModelSpec, shapes: Shapes) -> int:
    width, weights = size.input_width(shapes), 0
    if shapes.input_vocab is not None:  # an Embedding table
        width = spec.embedding or 1
        weights = shapes.input_vocab * width
    elif spec.embedding is not None:  # a bias-free Dense on the one-hot tokens
        weights = size.dense(width, spec.embedding, bias=False)
        width = spec.embedding
    stack, width = size.stack(width, spec, default_layers=1)
    return weights + stack + size.head(width, shapes)


@register(
    "generative",
    "LSTM language model: a window of tokens (one-hot or embedded) -> the next token (lesson 11).",
    parameters=parameters,
    check=check,
)
def build(spec: ModelSpec, shapes: Shapes) -> Any:
    import keras

    check(spec, shapes)
    if shapes.input_vocab is not None:
        graph = _token_ids(spec, shapes)
    else:
        graph = sequence_input(shapes)
        if spec.embedding is not None:
            graph.x = keras.layers.Dense(spec.embedding, use_bias=False, name="embedding")(graph.x)
    lstm_stack(graph, units_per_layer(spec, 1), spec, shapes)
    return graph.model(dense_head(graph, spec, shapes), name="generative")
