"""The prepared data every later stage receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lstmctl.data.window_index import IndexedWindows

if TYPE_CHECKING:
    from lstmctl.data.pipeline import Pipeline


# Windows as one array of copies, or by index into shared rows (a panel's).
Windows = np.ndarray | IndexedWindows


@dataclass
class Series:
    """The rows behind the windows of data read from a file (generated problems have none).

    What the statistical baselines extrapolate and the scaled metrics (MASE,
    RMSSE) are scaled by: the targets in the data's own units, every row.
    """

    # Targets in original units, one row per (cleaned) data row: (rows, n_targets).
    values: np.ndarray
    # Rows before the test part (training and validation): the in-sample part
    # MASE and RMSSE are scaled by.
    n_insample: int
    # Row index of each test window's origin (its last input row), in window order.
    test_origins: np.ndarray
    # Time label of every row.
    labels: list[str]


@dataclass
class Panel:
    """Many series prepared together (``data.series``): which series each window is from.

    Windows of every part are grouped by series, in the order of ``ids``: the
    test windows of ``ids[0]`` first, then those of ``ids[1]``, ...
    """

    # The series kept, in window order.
    ids: list[str]
    # Each kept series' rows (targets in original units, in-sample rows, test origins).
    series: list[Series]
    # Index into ``ids`` of each test window and of each validation window.
    test_series: np.ndarray
    val_series: np.ndarray
    # Series left out (``data.short_series: skip``): id -> why.
    skipped: dict[str, str] = field(default_factory=dict)

    def test_slices(self) -> list[slice]:
        """The test windows of each series, as slices of the pooled test windows."""
        counts = np.bincount(self.test_series, minlength=len(self.ids))
        ends = np.cumsum(counts)
        return [slice(int(e - c), int(e)) for c, e in zip(counts, ends, strict=True)]


@dataclass
class Prepared:
    """Windows in model space plus what is needed to score in original units.

    Arrays of windows are float32: inputs ``(n, lookback, n_inputs)`` (or
    ``(n, lookback, *step_shape)`` when each step is an image frame),
    targets ``(n, horizon, n_targets)``. Training, validation and test windows
    are each in time order; training windows all come before validation
    windows, which come before test windows, so ``X_train`` then ``X_val``
    replays the history a stateful model must see before the test part.

    A panel's windows are :class:`~lstmctl.data.window_index.IndexedWindows`:
    start indices into the rows of all its series, not copies (``np.asarray``
    materializes them); a single series' are plain arrays.
    """

    X_train: Windows
    y_train: Windows
    X_val: Windows
    y_val: Windows
    X_test: Windows
    y_test: Windows
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
    # Validation windows' targets in original units and the inverse for forecasts of
    # them (as for the test windows): what interval calibration scores.
    actual_val: np.ndarray | None = None
    inverse_val: Callable[[np.ndarray], np.ndarray] | None = None
    # The series the windows were cut from (None for generated problems).
    series: Series | None = None
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
    # Many series (data.series): the series of each window (None: one series).
    panel: Panel | None = None
    # model.series_embedding on a panel: (number of series, size); the series'
    # index is then the inputs' last column.
    series_embedding: tuple[int, int] | None = None

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
            "series_embedding": self.series_embedding,
        }
