"""The prepared data every later stage receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Prepared:
    """Windows in model space plus what is needed to score in original units.

    Arrays of windows are float32: inputs ``(n, lookback, n_inputs)``,
    targets ``(n, horizon, n_targets)``. Training, validation and test windows
    are each in time order; training windows all come before validation
    windows, which come before test windows, so ``X_train`` then ``X_val``
    replays the history a stateful model must see before the test part.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    # Test targets in the data's own units, shape (n_test, horizon, n_targets).
    actual_test: np.ndarray
    # Persistence forecasts for exactly those targets (last observed value).
    persistence_test: np.ndarray
    # Model-space predictions for the test windows -> original units, using the
    # actual observations up to each forecast origin (walk-forward inversion).
    inverse: Callable[[np.ndarray], np.ndarray]
    input_names: list[str]
    target_names: list[str]
    # Time label of the first forecast step of every test window.
    test_labels: list[str]
    # Sentinel for missing inputs when data.missing is `mask` (else None).
    mask_value: float | None = None
    # Fitted preprocessing state, plain JSON-able numbers (for reports, saving later).
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def lookback(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def horizon(self) -> int:
        return int(self.y_train.shape[1])
