"""Windows by index: a panel's windows as start rows into one array of rows, not copies.

A materialized window repeats ``lookback`` rows, so the windows of a table
take about ``lookback`` times its memory. :class:`IndexedWindows` keeps the
rows once and one start index per window: window ``i`` is
``rows[starts[i] : starts[i] + length]``. The compiled trainer gathers each
batch's windows from the rows on the device
(:mod:`lstmctl.training.program`), the plain Keras path on the host, one batch
at a time (:mod:`lstmctl.training.keras_batches`); code that needs real arrays
(a panel's ``update``, scoring helpers, tests) gets them from
:meth:`IndexedWindows.materialize` or ``np.asarray``, one part at a time and
only when asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from lstmctl.memory import check_fits

__all__ = ["IndexedWindows", "held_nbytes", "is_indexed"]


class IndexedWindows:
    """``len(starts)`` windows of ``length`` consecutive rows of ``rows``, by start index.

    Behaves like the array of windows ``(n, length, *rows.shape[1:])`` where
    code reads it as one: ``len``, ``shape``, ``dtype``, ``np.asarray``;
    selecting windows (an int array, a boolean mask, a slice) gives another
    IndexedWindows over the same rows, an int gives one window, and any other
    index (``X[:, -1, 0]``) is applied to the materialized selection.
    """

    def __init__(self, rows: np.ndarray, starts: np.ndarray, length: int) -> None:
        self.rows = rows
        # Half the bytes of int64 per window, for any table under 2**31 rows.
        index = np.int32 if len(rows) < 2**31 else np.int64
        self.starts = np.asarray(starts, dtype=index)
        self.length = int(length)
        if self.starts.ndim != 1:
            raise ValueError(f"expected one start per window, found shape {self.starts.shape}")
        if len(self.starts) and (
            self.starts.min() < 0 or self.starts.max() + self.length > len(rows)
        ):
            raise ValueError(
                f"windows of {self.length} rows starting at {self.starts.min()} .. "
                f"{self.starts.max()} reach past the {len(rows)} rows"
            )

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.starts), self.length, *self.rows.shape[1:])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.rows.dtype

    @property
    def nbytes(self) -> int:
        """What these windows hold: the rows (once) and the start indices."""
        return int(self.rows.nbytes + self.starts.nbytes)

    @property
    def materialized_nbytes(self) -> int:
        """What the same windows would take as one array of copies."""
        return int(self.size * self.rows.itemsize)

    def materialize(self, sel: Any = None) -> np.ndarray:
        """The windows (those ``sel`` picks from, default all) as one array of copies."""
        starts = self.starts if sel is None else self.starts[sel]
        n = len(starts)
        per = self.length * int(np.prod(self.rows.shape[1:]))
        check_fits(
            n * per * self.rows.itemsize,
            where="data.window.lookback",
            what=f"{n} windows of {self.length} steps x {self.rows.shape[1:]} copied",
        )
        at = starts.astype(np.int64)[:, None] + np.arange(self.length)[None, :]
        return np.asarray(self.rows[at])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.materialize()
        return out if dtype is None else out.astype(dtype, copy=False)

    def astype(self, dtype: Any, copy: bool = True) -> np.ndarray:
        return self.materialize().astype(dtype, copy=False)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            first, rest = (key[0], key[1:]) if key else (slice(None), ())
            picked = self[first]
            if isinstance(picked, IndexedWindows):
                return picked.materialize()[(slice(None), *rest)]
            return picked[rest]
        if isinstance(key, (int, np.integer)):
            start = int(self.starts[key])
            return self.rows[start : start + self.length].copy()
        return IndexedWindows(self.rows, self.starts[key], self.length)

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"IndexedWindows(shape={self.shape}, dtype={self.dtype}, rows={len(self.rows)})"


def is_indexed(*arrays: Any) -> bool:
    """Whether every one of ``arrays`` is an :class:`IndexedWindows`."""
    return all(isinstance(a, IndexedWindows) for a in arrays)


def held_nbytes(arrays: Iterable[Any]) -> int:
    """The memory ``arrays`` hold together: indexed windows' shared rows counted once."""
    total, seen = 0, set()
    for a in arrays:
        if isinstance(a, IndexedWindows):
            if id(a.rows) not in seen:
                seen.add(id(a.rows))
                total += int(a.rows.nbytes)
            total += int(a.starts.nbytes)
        else:
            total += int(np.asarray(a).nbytes)
    return total
