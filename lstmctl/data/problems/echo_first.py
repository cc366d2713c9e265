"""``echo_first``: echo the first values of a long random sequence (lesson 10, attention).

Each sequence is ``length`` random integers in ``0 .. values-1``, one-hot;
the target is its first ``echo`` values. Everything after them is noise the
model must carry them past — the case attention was made for.
"""

from __future__ import annotations

import numpy as np
from pydantic import PositiveInt, model_validator

from lstmctl.data.problems.encoding import one_hot
from lstmctl.data.problems.registry import Generated, SampledParams, register_problem


class EchoFirstParams(SampledParams):
    length: PositiveInt = 5
    values: PositiveInt = 50
    echo: PositiveInt = 2

    @model_validator(mode="after")
    def _inside(self) -> EchoFirstParams:
        if self.echo > self.length:
            raise ValueError(f"echo must be at most length ({self.length}), found {self.echo}")
        if self.values < 2:
            raise ValueError(f"values must be at least 2, found {self.values}")
        return self

    def nbytes(self) -> int:
        # The drawn integers (int64), then the one-hot inputs and targets (float32).
        return self.samples * (self.length * (8 + 4 * self.values) + self.echo * 4 * self.values)


@register_problem(
    "echo_first",
    "long random one-hot sequences; output their first few values (lesson 10)",
    EchoFirstParams,
)
def generate(p: EchoFirstParams, rng: np.random.Generator) -> Generated:
    seq = rng.integers(0, p.values, size=(p.samples, p.length))
    classes = [str(v) for v in range(p.values)]
    return Generated(
        X=one_hot(seq, p.values),
        y=one_hot(seq[:, : p.echo], p.values),
        task="classification",
        input_names=classes,
        target_names=[f"value[{i}]" for i in range(p.echo)],
        classes=classes,
    )
