"""Batch bookkeeping shared by the trainers: trimming, padding, and gathering windows.

Windows by index (a panel's, see :mod:`lstmctl.data.window_index`) reach the
compiled trainer as their rows and start indices (:func:`indexed_arrays`);
each batch's windows are gathered inside the program (:func:`batch_windows`),
so the device holds the rows once, not ``lookback`` copies of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lstmctl.data.window_index import IndexedWindows, is_indexed


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


def shares_rows(X: Any, y: Any, *more: Any) -> bool:
    """Whether windows ``X`` (inputs) and ``y`` (targets), and pairs ``more`` after them,
    are all by index: inputs from one array of rows, targets from another."""
    pairs = [X, y, *more]
    if not is_indexed(*pairs):
        return False
    return all(a.rows is pairs[i % 2].rows for i, a in enumerate(pairs))


def indexed_arrays(
    X_fit: IndexedWindows,
    y_fit: IndexedWindows,
    X_val: IndexedWindows,
    y_val: IndexedWindows,
    val_batch: int,
) -> dict[str, Any]:
    """The trainer's device data from windows by index: the rows, the targets, each
    training window's starts and the validation windows' starts in padded batches
    (none when ``X_val`` is empty)."""
    import jax.numpy as jnp

    arrays: dict[str, Any] = {
        "rows": jnp.asarray(X_fit.rows, jnp.float32),
        "targets": jnp.asarray(y_fit.rows, jnp.float32),
        # Their shapes carry the windows' lengths into the program (static under jit).
        "x_steps": jnp.arange(X_fit.length, dtype=jnp.int32),
        "y_steps": jnp.arange(y_fit.length, dtype=jnp.int32),
        "xs": jnp.asarray(X_fit.starts, jnp.int32),
        "ys": jnp.asarray(y_fit.starts, jnp.int32),
    }
    if len(X_val):
        idx, wv = padded_index(len(X_val), val_batch)
        arrays.update(
            xsv=jnp.asarray(X_val.starts[idx], jnp.int32),
            ysv=jnp.asarray(y_val.starts[idx], jnp.int32),
            wv=jnp.asarray(wv),
        )
    return arrays


def gather(rows: Any, starts: Any, steps: Any) -> Any:
    """Windows ``rows[start : start + len(steps)]`` for each of ``starts``: ``(n, steps, ...)``."""
    return rows[starts[:, None] + steps[None, :]]


def batch_windows(arr: dict[str, Any], idx: Any) -> tuple[Any, Any]:
    """The inputs and targets of the training windows ``idx`` (gathered when by index)."""
    if "rows" in arr:
        return (
            gather(arr["rows"], arr["xs"][idx], arr["x_steps"]),
            gather(arr["targets"], arr["ys"][idx], arr["y_steps"]),
        )
    return arr["X"][idx], arr["y"][idx]


def val_batches(arr: dict[str, Any]) -> tuple[Any, Any]:
    """What validation scans over (one item per batch), and how one item becomes windows."""
    if "rows" in arr:

        def windows(xs: Any, ys: Any) -> tuple[Any, Any]:
            return (
                gather(arr["rows"], xs, arr["x_steps"]),
                gather(arr["targets"], ys, arr["y_steps"]),
            )

        return (arr["xsv"], arr["ysv"], arr["wv"]), windows
    return (arr["Xv"], arr["yv"], arr["wv"]), lambda x, y: (x, y)


def padded_batches(
    X: np.ndarray, y: np.ndarray | None, size: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``X`` (and ``y``) padded to whole batches of ``size``: shapes (n_batches, size, ...).

    The weights are 1 for real windows and 0 for the padding (copies of window 0).
    """
    idx, w = padded_index(len(X), size)
    n_batches = len(idx)
    Xb = X[idx.ravel()].astype(np.float32).reshape(n_batches, size, *X.shape[1:])
    yb = (
        None
        if y is None
        else y[idx.ravel()].astype(np.float32).reshape(n_batches, size, *y.shape[1:])
    )
    return Xb, yb, w


def padded_index(n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``n`` windows in whole batches of ``size`` ``(n_batches, size)``, padded
    with window 0, and the weights (1 for real windows, 0 for the padding)."""
    n_batches = math.ceil(n / size)
    pad = n_batches * size - n
    idx = np.concatenate([np.arange(n), np.zeros(pad, dtype=np.int64)])
    w = (np.arange(n_batches * size) < n).astype(np.float32).reshape(n_batches, size)
    return idx.reshape(n_batches, size), w


def ahead_batches(X_val: Any, X_test: Any, size: int) -> tuple[Any, Callable[[Any], Any]]:
    """The windows ``X_val`` then ``X_test`` in padded batches of ``size`` (on the device),
    and what turns one batch into the model's inputs: start indices gathered from the
    rows when the windows are by index (the batch itself otherwise)."""
    import jax.numpy as jnp

    if shares_rows(X_val, X_test):
        starts = np.concatenate([X_val.starts, X_test.starts])
        idx, _ = padded_index(len(starts), size)
        rows = jnp.asarray(X_test.rows, jnp.float32)
        steps = jnp.arange(X_test.length, dtype=jnp.int32)
        return jnp.asarray(starts[idx], jnp.int32), lambda s: gather(rows, s, steps)
    ahead = np.concatenate([X_val, X_test]) if len(X_val) else np.asarray(X_test)
    Xp, _, _ = padded_batches(ahead, None, size)
    return jnp.asarray(Xp), lambda x: x
