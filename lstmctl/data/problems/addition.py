"""``addition``: add numbers written as text (lesson 8, encoder-decoder LSTMs).

Each sample is a string such as ``10+6+3`` (``terms`` random integers in
``1 .. largest``) and the target is its sum as a string, ``19``. Both are
left-padded with spaces to a fixed width and one-hot encoded over the
alphabet ``0123456789+ `` — a sequence-to-sequence problem whose input and
output lengths differ.
"""

from __future__ import annotations

import numpy as np
from pydantic import PositiveInt, model_validator

from lstmctl.data.problems.encoding import one_hot
from lstmctl.data.problems.registry import Generated, SampledParams, register_problem

ALPHABET = "0123456789+ "


class AdditionParams(SampledParams):
    terms: PositiveInt = 3
    largest: PositiveInt = 10

    @model_validator(mode="after")
    def _sums_fit(self) -> AdditionParams:
        # The sums are drawn and added as 64-bit integers: past that they wrap around.
        if self.terms * self.largest >= 2**63:
            raise ValueError(
                f"terms x largest must be below 2**63 (sums are 64-bit integers), found "
                f"{self.terms} x {self.largest}"
            )
        return self

    def nbytes(self) -> int:
        # Per sample: the terms (int64) and their digits as Python strings, then each
        # character as a Python list item, an int64 id and a one-hot float32 row.
        width = self.terms * len(str(self.largest)) + self.terms - 1
        width += len(str(self.terms * self.largest))
        return self.samples * (60 * self.terms + width * (8 + 8 + 4 * len(ALPHABET)) + 150)


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
