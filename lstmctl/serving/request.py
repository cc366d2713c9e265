"""What a ``predict`` request may ask of a model: its horizon, rows and interval levels.

One series' predictor and a panel's check a request the same way, before any
row is read or any engine runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lstmctl.errors import UsageError
from lstmctl.serving.bands import check_levels

# Recursive forecasts feed forecasts back as inputs: far beyond the data's own
# length they say little, and the rows must fit in memory and on a screen.
MAX_HORIZON = 10_000


def check_request(horizon: int | None, has_rows: bool, history: bool) -> None:
    """UsageError for a horizon out of range, or ``--no-history`` without rows."""
    if horizon is not None and not 1 <= horizon <= MAX_HORIZON:
        raise UsageError(
            f"expected a horizon of 1 to {MAX_HORIZON} steps, found {horizon}",
            where="--horizon",
        )
    if not has_rows and not history:
        raise UsageError("--no-history needs rows to predict from (--input)", "--no-history")


def usable_levels(levels: Sequence[float], bands: Any, members: int) -> list[float]:
    """``--interval`` levels, checked against what the model can give (its ``bands``)."""
    found = check_levels(levels) if levels else []
    if found and bands is None:
        why = (
            "it has one member, whose spread is zero"
            if members == 1
            else "it was saved without a calibration"
        )
        raise UsageError(
            f"this model gives no intervals: {why}; save an ensemble with "
            "`lstmctl finalize --members N` (N >= 2, 10 by default)",
            where="--interval",
        )
    return found
