"""Keras batches of windows by index: each batch gathered from the rows when Keras asks for it.

``model.fit`` on arrays needs a panel's windows materialized, ``lookback``
copies of every row. :func:`window_batches` hands Keras a
``keras.utils.PyDataset`` instead, whose batch ``i`` is gathered from the
rows by the start indices of its windows (:mod:`lstmctl.data.window_index`),
so no more than one batch of windows is ever copied.

The batches of every epoch are one sequence, fitted with ``steps_per_epoch``,
and batch ``i`` is a function of ``i`` alone: epoch ``e``'s order is a
permutation drawn from ``(seed, e)``. Shuffling in ``on_epoch_begin`` instead
would race TensorFlow, whose ``tf.data`` prefetches the next epoch's first
batches before that hook runs; this way a repeat is reproducible on any
backend.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from lstmctl.data.window_index import IndexedWindows

__all__ = ["epoch_order", "gather_windows", "window_batches"]


def epoch_order(n: int, epoch: int, seed: int | None) -> np.ndarray:
    """The order of ``n`` windows in ``epoch``: a permutation drawn from ``(seed, epoch)``,
    or ``0 .. n - 1`` when ``seed`` is None (no shuffling)."""
    if seed is None:
        return np.arange(n)
    # A seed sequence takes non-negative entropy: a negative seed maps to its 64-bit twin.
    return np.random.default_rng([seed & (2**64 - 1), epoch]).permutation(n)


def gather_windows(windows: IndexedWindows, sel: np.ndarray) -> np.ndarray:
    """The windows ``sel`` of ``windows`` as one array: only these are copied."""
    at = windows.starts[sel].astype(np.int64)[:, None] + np.arange(windows.length)[None, :]
    return np.asarray(windows.rows[at])


def window_batches(
    X: IndexedWindows,
    y: IndexedWindows | None,
    batch_size: int,
    epochs: int = 1,
    seed: int | None = None,
) -> Any:
    """A ``keras.utils.PyDataset`` of windows ``X`` (and targets ``y``) in batches of
    ``batch_size``, for ``epochs`` epochs in sequence (fit it with ``steps_per_epoch``
    set to ``math.ceil(len(X) / batch_size)``), each epoch shuffled when ``seed`` is given.

    Without ``y`` a batch is ``(inputs,)``, what ``model.predict`` reads.
    """
    if y is not None and len(y) != len(X):
        raise ValueError(
            f"expected one target window per input window, found {len(y)} and {len(X)}"
        )
    return _dataset_class()(X, y, batch_size, epochs, seed)


@functools.cache
def _dataset_class() -> type:
    import keras

    class WindowBatches(keras.utils.PyDataset):  # type: ignore[misc, name-defined]
        def __init__(
            self,
            X: IndexedWindows,
            y: IndexedWindows | None,
            batch_size: int,
            epochs: int,
            seed: int | None,
        ) -> None:
            super().__init__()
            self.X, self.y = X, y
            self.batch_size, self.epochs, self.seed = int(batch_size), int(epochs), seed
            self.per_epoch = math.ceil(len(X) / self.batch_size)
            # The last epoch's order, kept as one pair so that a reader on another
            # thread (tf.data's) never sees an order beside the wrong epoch.
            self._order: tuple[int, np.ndarray] | None = None

        @property
        def num_batches(self) -> int:
            return self.per_epoch * self.epochs

        def __len__(self) -> int:
            return self.num_batches

        def _epoch_order(self, epoch: int) -> np.ndarray:
            kept = self._order
            if kept is None or kept[0] != epoch:
                kept = (epoch, epoch_order(len(self.X), epoch, self.seed))
                self._order = kept
            return kept[1]

        def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
            if not 0 <= i < self.num_batches:
                raise IndexError(f"batch {i} of {self.num_batches}")
            epoch, b = divmod(int(i), self.per_epoch)
            sel = self._epoch_order(epoch)[b * self.batch_size : (b + 1) * self.batch_size]
            if self.y is None:
                return (gather_windows(self.X, sel),)
            return gather_windows(self.X, sel), gather_windows(self.y, sel)

    return WindowBatches
