"""``addition``: add numbers written as text (lesson 8, encoder-decoder LSTMs).

Each sample is a string such as ``10+6+3`` (``terms`` random integers in
``1 .. largest``) and the target is its sum as a string, ``19``. Both are
left-padded with spaces to a fixed width and one-hot encoded over the
alphabet ``0123456789+ `` — a sequence-to-sequence problem whose input and
output lengths differ.
"""

from __future__ import annotations

import numpy as np
from pydantic import PositiveInt

from lstmctl.data.problems.encoding import one_hot
from lstmctl.data.problems.registry import Generated, SampledParams, register_problem

ALPHABET = "0123456789+ "


class AdditionParams(SampledParams):
    terms: PositiveInt = 3
    largest: PositiveInt = 10


def _encode(texts: list[str], width: int) -> np.ndarray:
    index = {c: i for i, c in enumerate(ALPHABET)}
    ids = np.array([[index[c] for c in t.rjust(width)] for t in texts], dtype=np.int64)
    return one_hot(ids, len(ALPHABET))


@register_problem(
    "addition",
    "sums written as text, '10+6+3' -> '19', characters one-hot (lesson 8)",
    AdditionParams,
)
def generate(p: AdditionParams, rng: np.random.Generator) -> Generated:
    terms = rng.integers(1, p.largest + 1, size=(p.samples, p.terms))
    questions = ["+".join(str(v) for v in row) for row in terms]
    answers = [str(v) for v in terms.sum(axis=1)]
    width_in = p.terms * len(str(p.largest)) + p.terms - 1
    width_out = len(str(p.terms * p.largest))
    classes = list(ALPHABET)
    return Generated(
        X=_encode(questions, width_in),
        y=_encode(answers, width_out),
        task="classification",
        input_names=classes,
        target_names=[f"char[{i}]" for i in range(width_out)],
        classes=classes,
    )
