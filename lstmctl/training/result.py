"""What a trainer hands to evaluation, and the results of repeats that failed."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lstmctl.data.prepared import Prepared

# progress(repeat, epochs_done, total_epochs): repeat is the index of the repeat
# training, or -1 while every repeat trains at once (the compiled trainer; with
# more than one block of replicas, the last replica of the block training).
Progress = Callable[[int, int, int], None]


@dataclass
class FitResult:
    """One repeat: its seed, its learning curves, its test predictions."""

    seed: int
    # Per-epoch values, e.g. {"loss": [...], "val_loss": [...]}.
    history: dict[str, list[float]]
    # Model-space predictions for Prepared.X_test, shape (n_test, horizon, n_targets),
    # made walk-forward (a stateful model first replays the training windows).
    test_pred: np.ndarray
    seconds: float
    # The fitted weights (keras order), for saving and re-use.
    weights: list[np.ndarray] = field(default_factory=list)
    # Model-space forecasts of Prepared.X_val, made the same way (walking forward from
    # the training windows): what calibrates prediction intervals. None: not made.
    val_pred: np.ndarray | None = None
    # Set when this repeat failed (e.g. the loss became NaN); test_pred is then empty.
    error: str | None = None
    epochs_run: int = 0


def non_finite_loss(value: float, epoch: int) -> str:
    """The error of a repeat stopped because its loss became NaN or infinite at ``epoch``."""
    what = "NaN" if math.isnan(value) else "inf" if value > 0 else "-inf"
    return f"loss became {what} at epoch {epoch}"


def failed_fit(seed: int, error: str, seconds: float, data: Prepared) -> FitResult:
    """The result of a repeat that produced no model (``error`` says why)."""
    empty = np.zeros((0, *data.y_train.shape[1:]), np.float32)
    return FitResult(seed=seed, history={}, test_pred=empty, seconds=seconds, error=error)
