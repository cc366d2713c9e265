"""The prepared data every later stage receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lstmctl.data.pipeline import Pipeline


@dataclass
class Prepared:
    """Windows in model space plus what is needed to score in original units.

    Arrays of windows are float32: inputs ``(n, lookback, n_inputs)`` (or
    ``(n, lookback, *step_shape)`` when each step is an image frame),
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
    # The fitted preprocessing itself (series read from a CSV file; None for problems):
    # its ``state()`` is what a saved model's ``predict`` restores and applies.
    pipeline: Pipeline | None = None
    # "classification": targets are class probabilities (one-hot over ``classes``,
    # or one 0/1 column for two classes); ``actual_test`` holds class indices and
    # ``inverse`` turns predicted probabilities into class indices.
    task: str = "regression"
    classes: list[str] = field(default_factory=list)
    # Targets are one per input step (sequence labelling), not steps after the window.
    per_step: bool = False
    # Inputs are token ids (one per step) from a vocabulary of this size.
    input_vocab: int | None = None

    @property
    def lookback(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def horizon(self) -> int:
        return int(self.y_train.shape[1])

    def shape_hints(self) -> dict[str, Any]:
        """What a builder needs beyond sizes: ``Shapes`` keywords taken from the data."""
        step = tuple(int(d) for d in self.X_train.shape[2:])
        return {
            "step_shape": step if len(step) > 1 else (),
            "per_step": self.per_step,
            "input_vocab": self.input_vocab,
        }
