"""Shampoo Sales framed as in the course (for the hand-written baselines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CSV = Path(__file__).resolve().parents[1] / "datasets" / "shampoo.csv"


def load_shampoo(batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lag-1 differences scaled to [-1, 1] on the 24 training months, trimmed to the batch."""
    s = pd.read_csv(CSV)["Sales"].to_numpy(dtype="float32")
    d = np.diff(s)
    x, y = d[:-1], d[1:]
    xtr, ytr = x[:-12], y[:-12]
    lo, hi = min(xtr.min(), ytr.min()), max(xtr.max(), ytr.max())
    scale = lambda v: ((v - lo) / (hi - lo) * 2 - 1).astype("float32")  # noqa: E731
    n = len(xtr) // batch * batch
    X = scale(xtr[-n:]).reshape(-1, 1, 1)
    Y = scale(ytr[-n:]).reshape(-1, 1)
    return X, Y, scale(x).reshape(-1, 1, 1)
