"""Encoder-decoder LSTM whose decoder attends over every encoder step (lesson 10).

Without attention the decoder sees the input only through the encoder's
final vector, which must carry everything past a long stretch of
irrelevant steps. Here each decoder step also gets a context vector: the
encoder's outputs weighted by their match with that step (Keras'
``Attention``, dot-product scores, or ``AdditiveAttention``, set by
``model.attention``), so it can look straight back at the steps it needs.
Everything else is :mod:`lstmctl.models.encoder_decoder`, so the two
compare like for like.
"""

from __future__ import annotations

from typing import Any

from lstmctl.models.encoder_decoder import check_seq2seq, seq2seq, seq2seq_parameters
from lstmctl.models.registry import Shapes, register
from lstmctl.spec import ModelSpec


def parameters(spec: ModelSpec, shapes: Shapes) -> int:
    return seq2seq_parameters(spec, shapes, attention=True)


def check(spec: ModelSpec, shapes: Shapes) -> None:
    check_seq2seq(spec, shapes, attention=True)


@register(
    "attention",
    "encoder-decoder LSTM whose decoder attends over all encoder steps (lesson 10).",
    parameters=parameters,
    check=check,
)
def build(spec: ModelSpec, shapes: Shapes) -> Any:
    return seq2seq(spec, shapes, attention=True)
