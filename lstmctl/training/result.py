"""What a trainer hands to evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    # Set when this repeat failed (e.g. the loss became NaN); test_pred is then empty.
    error: str | None = None
    epochs_run: int = 0
