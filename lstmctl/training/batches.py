"""Batch bookkeeping shared by the trainers."""

from __future__ import annotations

import numpy as np


def trim_for_stateful(
    X: np.ndarray, y: np.ndarray, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the most recent ``n // batch_size * batch_size`` windows.

    A stateful LSTM has a fixed batch size, so every batch must be full; the
    oldest windows are the ones dropped (the book trims the same way).
    """
    n = len(X) // batch_size * batch_size
    if n == 0:
        return X[:0], y[:0]
    return X[len(X) - n :], y[len(y) - n :]
