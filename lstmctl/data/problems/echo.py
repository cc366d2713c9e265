"""``echo``: remember one value of a random sequence (lesson 5, the vanilla LSTM).

Each sequence is ``length`` random integers in ``0 .. values-1``, one-hot
encoded; the target is the value at position ``index``. The LSTM must read
the whole sequence and keep that one value in its memory.
"""

from __future__ import annotations

import numpy as np
from pydantic import PositiveInt, model_validator

from lstmctl.data.problems.encoding import one_hot
from lstmctl.data.problems.registry import Generated, SampledParams, register_problem


class EchoParams(SampledParams):
    length: PositiveInt = 5
    values: PositiveInt = 10
    index: int = 2

    @model_validator(mode="after")
    def _inside(self) -> EchoParams:
        if not 0 <= self.index < self.length:
            raise ValueError(
                f"index must lie in 0..{self.length - 1} (length {self.length}), found {self.index}"
            )
        if self.values < 2:
            raise ValueError(f"values must be at least 2, found {self.values}")
        return self

    def nbytes(self) -> int:
        # The drawn integers (int64), then the one-hot inputs and target (float32).
        return self.samples * (self.length * (8 + 4 * self.values) + 4 * self.values)


@register_problem(
    "echo",
    "random one-hot integer sequences; output the value at a given index (lesson 5)",
    EchoParams,
)
def generate(p: EchoParams, rng: np.random.Generator) -> Generated:
    seq = rng.integers(0, p.values, size=(p.samples, p.length))
    classes = [str(v) for v in range(p.values)]
    return Generated(
        X=one_hot(seq, p.values),
        y=one_hot(seq[:, [p.index]], p.values),
        task="classification",
        input_names=classes,
        target_names=[f"value[{p.index}]"],
        classes=classes,
    )
