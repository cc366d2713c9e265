"""``damped_sine``: forecast the next steps of a damped sine wave (lesson 6, stacked LSTMs).

Each sequence is ``0.5 + 0.5 sin(2 pi i / period) exp(-decay i)`` with a
random period and decay; the first ``length`` steps are the input, the next
``output`` steps the target.
"""

from __future__ import annotations

import numpy as np
from pydantic import PositiveFloat, PositiveInt, model_validator

from lstmctl.data.problems.registry import Generated, SampledParams, register_problem


class DampedSineParams(SampledParams):
    length: PositiveInt = 50
    output: PositiveInt = 5
    period: tuple[PositiveFloat, PositiveFloat] = (10.0, 20.0)
    decay: tuple[PositiveFloat, PositiveFloat] = (0.01, 0.1)

    @model_validator(mode="after")
    def _ranges(self) -> DampedSineParams:
        for key in ("period", "decay"):
            lo, hi = getattr(self, key)
            if lo > hi:
                raise ValueError(f"{key} must be [low, high] with low <= high, found {[lo, hi]}")
        return self

    def nbytes(self) -> int:
        # The wave and its float64 temporaries (angle, sine, decay), then float32 X, y.
        steps = self.length + self.output
        return self.samples * (steps * (4 * 8 + 4) + 4 * self.output)


@register_problem(
    "damped_sine",
    "damped sine waves of random period and decay; forecast the next steps (lesson 6)",
    DampedSineParams,
)
def generate(p: DampedSineParams, rng: np.random.Generator) -> Generated:
    period = rng.uniform(*p.period, size=(p.samples, 1))
    decay = rng.uniform(*p.decay, size=(p.samples, 1))
    i = np.arange(p.length + p.output)[None, :]
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * i / period) * np.exp(-decay * i)
    X = wave[:, : p.length, None].astype(np.float32)
    y = wave[:, p.length :, None].astype(np.float32)
    return Generated(
        X=X,
        y=y,
        task="regression",
        input_names=["value"],
        target_names=["value"],
        # The last observed value, held for every step ahead.
        persistence=np.repeat(X[:, -1:, :], p.output, axis=1),
    )
