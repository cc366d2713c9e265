"""Generative LSTM: a language model over characters or words (lesson 11).

The input is a window of tokens, the output the probabilities of the next
one (softmax over the vocabulary); sampling from it token by token, with a
temperature, generates new text (:mod:`lstmctl.generation`). Tokens come
in one-hot, optionally through a learned embedding of ``model.embedding``
dimensions (a bias-free Dense layer: on one-hot vectors, exactly an
embedding lookup), or as ids (``data.params.encoding: index``) through a
Keras ``Embedding``.
"""

from __future__ import annotations

from typing import Any

from lstmctl.errors import SpecError
from lstmctl.models.blocks import Graph, dense_head, lstm_stack, sequence_input, units_per_layer
from lstmctl.models.registry import Shapes, register
from lstmctl.spec import ModelSpec


def _token_ids(spec: ModelSpec, shapes: Shapes) -> Graph:
    import keras

    if spec.embedding is None:
        raise SpecError(
            f"token ids need an embedding: set model.embedding (e.g. 32) for the "
            f"{shapes.input_vocab} tokens, found none",
            where="model.embedding",
        )
    fixed = shapes.batch_size if shapes.state_mode == "native" else None
    inp = keras.Input(shape=(shapes.lookback, 1), batch_size=fixed, name="window")
    x = keras.layers.Reshape((shapes.lookback,), name="ids")(inp)
    x = keras.layers.Embedding(shapes.input_vocab, spec.embedding, name="embedding")(x)
    return Graph(x=x, inputs=[inp])


@register(
    "generative",
    "LSTM language model: a window of tokens (one-hot or embedded) -> the next token (lesson 11).",
)
def build(spec: ModelSpec, shapes: Shapes) -> Any:
    import keras

    if shapes.input_vocab is not None:
        graph = _token_ids(spec, shapes)
    else:
        graph = sequence_input(shapes)
        if spec.embedding is not None:
            graph.x = keras.layers.Dense(spec.embedding, use_bias=False, name="embedding")(graph.x)
    lstm_stack(graph, units_per_layer(spec, 1), spec, shapes)
    return graph.model(dense_head(graph, spec, shapes), name="generative")
