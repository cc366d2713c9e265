"""``moving_line``: which way is a line being drawn? (lesson 7, CNN LSTMs)

Each sample is a sequence of ``frames`` images of ``size`` x ``size``
pixels. A line is drawn one column per frame, starting at the left or the
right edge at a random row and moving up, down or straight at each step;
every frame shows the line so far. The label is the direction: ``left``
(drawn from the right edge towards the left) or ``right``.
"""

from __future__ import annotations

import numpy as np
from pydantic import PositiveInt, model_validator

from lstmctl.data.problems.registry import Generated, SampledParams, register_problem


class MovingLineParams(SampledParams):
    size: PositiveInt = 50
    # Frames per sequence (default: size, one per column, as the book).
    frames: PositiveInt | None = None

    @model_validator(mode="after")
    def _fits(self) -> MovingLineParams:
        if self.size < 2:
            raise ValueError(f"size must be at least 2 pixels, found {self.size}")
        if self.frames is not None and self.frames > self.size:
            raise ValueError(
                f"frames must be at most size ({self.size}: one column per frame), "
                f"found {self.frames}"
            )
        return self

    def nbytes(self) -> int:
        # The frames (float32), then the line's rows, moves and columns (int64).
        frames = self.frames or self.size
        return self.samples * frames * (4 * self.size * self.size + 3 * 8)


@register_problem(
    "moving_line",
    "image sequences of a line drawn from the left or right edge; classify the direction "
    "(lesson 7)",
    MovingLineParams,
)
def generate(p: MovingLineParams, rng: np.random.Generator) -> Generated:
    n, size = p.samples, p.size
    frames = p.frames or size
    right = rng.random(n) < 0.5
    # The row of the line in each column: a random start, then steps of -1, 0 or +1.
    rows = np.empty((n, frames), dtype=np.int64)
    rows[:, 0] = rng.integers(0, size, n)
    moves = rng.integers(-1, 2, size=(n, frames))
    for c in range(1, frames):
        rows[:, c] = np.clip(rows[:, c - 1] + moves[:, c], 0, size - 1)
    cols = np.where(right[:, None], np.arange(frames)[None, :], size - 1 - np.arange(frames))
    # The pixel of column step c is lit in frame c and in every later frame.
    X = np.zeros((n, frames, size, size, 1), dtype=np.float32)
    sample = np.arange(n)
    for c in range(frames):
        X[sample, c:, rows[:, c], cols[:, c], 0] = 1.0
    return Generated(
        X=X,
        y=right.astype(np.float32).reshape(n, 1, 1),
        task="classification",
        input_names=["pixel"],
        target_names=["direction"],
        classes=["left", "right"],
    )
