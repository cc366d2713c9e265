"""Updating fitted models on new windows: ``lstmctl update`` and the update experiment.

Both schemes of continuing a fit (``fine-tune`` on the new windows,
``fine-tune-all`` on every window) and a ``refit`` from scratch train here,
through the compiled trainer, on the given windows alone: no validation or
test windows, and a fresh optimizer. Which windows a scheme trains on is the
caller's, and so is the spec (derived in :mod:`lstmctl.spec.derive`: no early
stopping, a stateful model's batch no larger than the windows).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.spec import Spec
from lstmctl.training.result import FitResult, Progress


def fit_windows(
    spec: Spec,
    data: Prepared,
    X: np.ndarray,
    y: np.ndarray,
    initial: list[list[np.ndarray]] | None,
    progress: Progress | None = None,
) -> list[FitResult]:
    """Fit ``spec``'s repeats on windows ``X``, ``y`` alone: from ``initial`` weights or afresh.

    ``initial[i]``, when given, are replica i's starting weights (a fine-tune);
    without them the replicas start from a fresh build (a refit). ``data``
    gives everything but the windows: its own training, validation and test
    windows are not used.
    """
    from lstmctl.training.backend import use_backend

    # Only the compiled trainer starts from given weights.
    use_backend("auto")
    from lstmctl.training.fused import fit_fused

    part = dataclasses.replace(
        data, X_train=X, y_train=y, X_val=X[:0], y_val=y[:0], X_test=X[:0], y_test=y[:0]
    )

    def all_at_once(done: int, total: int) -> None:
        if progress is not None:
            progress(-1, done, total)

    return fit_fused(spec, part, all_at_once, initial_weights=initial)
