"""Framing a series as supervised learning: ``lookback`` rows in, ``horizon`` rows out.

A window's *origin* ``o`` is the row of its last input: its inputs are rows
``o - lookback + 1 .. o`` and its targets rows ``o + 1 .. o + horizon``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lstmctl.errors import DataError
from lstmctl.memory import check_fits

__all__ = ["Windower", "make_windows"]


class Windower:
    """Cut every valid window from row-aligned ``inputs`` and ``targets``.

    A window is valid when all its rows exist, no target is NaN and, unless
    ``allow_missing_inputs``, no input is NaN. Nothing is learned: ``fit`` only
    checks the arguments.
    """

    def __init__(
        self, lookback: int = 1, horizon: int = 1, allow_missing_inputs: bool = False
    ) -> None:
        self.lookback = int(lookback)
        self.horizon = int(horizon)
        self.allow_missing_inputs = allow_missing_inputs

    def fit(self, inputs: Any = None, targets: Any = None) -> Windower:
        if self.lookback < 1 or self.horizon < 1:
            # A DataError, not a ValueError: the numbers may come from a saved model.
            raise DataError(
                f"lookback and horizon must be >= 1, found {self.lookback}, {self.horizon}",
                where="data.window",
            )
        return self

    def origins(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The origins of the valid windows, in increasing order."""
        inputs, targets = _rows(inputs), _rows(targets)
        if len(inputs) != len(targets):
            raise ValueError(f"inputs have {len(inputs)} rows but targets have {len(targets)}")
        n, lb, h = len(inputs), self.lookback, self.horizon
        first, last = lb - 1, n - h - 1
        if last < first:
            return np.zeros(0, dtype=np.int64)
        origins = np.arange(first, last + 1, dtype=np.int64)
        # Row flags, then "any bad row in the window" over a sliding view.
        bad_target = np.isnan(targets).any(axis=1)
        ok = ~np.asarray(sliding_window_view(bad_target[1:], h).any(axis=1))[origins]
        if not self.allow_missing_inputs:
            bad_input = np.isnan(inputs).any(axis=1)
            ok &= ~np.asarray(sliding_window_view(bad_input, lb).any(axis=1))[origins - lb + 1]
        return origins[ok]

    def transform(
        self, inputs: np.ndarray, targets: np.ndarray, origins: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, y, origins)``: X ``(n, lookback, n_inputs)``, y ``(n, horizon, n_targets)``.

        ``origins`` picks the windows (default: every valid one). X and y are
        float32.
        """
        inputs, targets = _rows(inputs), _rows(targets)
        if origins is None:
            origins = self.origins(inputs, targets)
        origins = np.asarray(origins, dtype=np.int64)
        lb, h = self.lookback, self.horizon
        if origins.size == 0:
            return (
                np.zeros((0, lb, inputs.shape[1]), dtype=np.float32),
                np.zeros((0, h, targets.shape[1]), dtype=np.float32),
                origins,
            )
        # Each window copies its rows: a long lookback over many rows multiplies the data.
        n_in, n_out = inputs.shape[1], targets.shape[1]
        check_fits(
            4 * origins.size * (lb * n_in + h * n_out),
            where="data.window.lookback",
            what=f"{origins.size} windows of {lb} steps x {n_in} inputs ({h} x {n_out} targets)",
        )
        x_view = sliding_window_view(inputs.astype(np.float32, copy=False), lb, axis=0)
        y_view = sliding_window_view(targets[1:].astype(np.float32, copy=False), h, axis=0)
        # Views are (start, columns, steps): put the steps before the columns.
        X = np.ascontiguousarray(x_view[origins - lb + 1].transpose(0, 2, 1))
        y = np.ascontiguousarray(y_view[origins].transpose(0, 2, 1))
        return X, y, origins


def make_windows(
    inputs: np.ndarray,
    targets: np.ndarray,
    lookback: int,
    horizon: int,
    allow_missing_inputs: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every valid window: ``(X, y, origins)`` (see :class:`Windower`)."""
    return Windower(lookback, horizon, allow_missing_inputs).fit().transform(inputs, targets)


def _rows(a: Any) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr
