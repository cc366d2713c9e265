"""Small encoders the generators share."""

from __future__ import annotations

import numpy as np


def one_hot(ids: np.ndarray, n: int) -> np.ndarray:
    """Integer ids of any shape -> float32 one-hot vectors on a new last axis."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.zeros((*ids.shape, n), dtype=np.float32)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out
