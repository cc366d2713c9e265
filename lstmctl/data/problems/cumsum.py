"""``cumsum``: label each step once a running total passes a threshold (lesson 9).

Each sequence is ``steps`` random values in [0, 1]; a step's label is 1 once
the cumulative sum up to it exceeds ``threshold`` (default ``steps / 4``),
else 0. One label per input step: a sequence-labelling problem on which
forward, backward and bidirectional LSTMs can be compared.
"""

from __future__ import annotations

import numpy as np
from pydantic import PositiveFloat, PositiveInt

from lstmctl.data.problems.registry import Generated, SampledParams, register_problem


class CumsumParams(SampledParams):
    steps: PositiveInt = 10
    threshold: PositiveFloat | None = None

    def nbytes(self) -> int:
        # float64 values and their running sum, the labels, float32 copies of both.
        return self.samples * self.steps * (8 + 8 + 1 + 4 + 4)


@register_problem(
    "cumsum",
    "random values in [0, 1]; label each step 1 once the running sum passes a threshold (lesson 9)",
    CumsumParams,
)
def generate(p: CumsumParams, rng: np.random.Generator) -> Generated:
    threshold = p.threshold if p.threshold is not None else p.steps / 4.0
    X = rng.random((p.samples, p.steps, 1))
    y = (np.cumsum(X, axis=1) > threshold).astype(np.float32)
    return Generated(
        X=X.astype(np.float32),
        y=y,
        task="classification",
        input_names=["value"],
        target_names=["passed"],
        classes=["0", "1"],
        per_step=True,
        state={"threshold": threshold},
    )
