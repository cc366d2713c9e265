"""The forecast table: the ensemble's forecast, its intervals and its members, row by row.

One row per (origin, step). The columns: for a panel ``series`` (one block of
rows per series), then ``origin``, ``step``, the time, the
targets (the ensemble's mean forecast; with one member, that member's), then,
grouped by target, the interval bounds asked for (``sales_lo_80``,
``sales_hi_80``, ...) and, asked for, each member's forecast (``sales_m01``
...). CSV, JSON and the table view show the same columns.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.errors import DataError
from lstmctl.evaluation.member_stats import ensemble
from lstmctl.serving.bands import level_label


@dataclass
class Grid:
    """One member's forecasts: ``values[i, h]`` from ``origins[i]``, for time ``times[i][h]``."""

    origins: list[str]
    times: list[list[str]]
    values: np.ndarray  # (n_origins, steps, n_targets), the data's units


@dataclass
class Forecast:
    """Rows of forecasts: one per (origin, step), in the data's units."""

    time_name: str
    targets: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    engine: str = ""
    # Interval bounds and members' forecasts, when asked: after the targets.
    extra: list[str] = field(default_factory=list)
    # A panel's forecasts: the column naming each row's series, first (None: one series).
    series_name: str | None = None

    def columns(self) -> list[str]:
        first = [self.series_name] if self.series_name else []
        return [*first, "origin", "step", self.time_name, *self.targets, *self.extra]

    def csv(self) -> str:
        buf = io.StringIO()
        pd.DataFrame(self.rows, columns=self.columns()).to_csv(
            buf, index=False, lineterminator="\n"
        )
        return buf.getvalue()

    def json(self) -> str:
        return json.dumps(self.rows, indent=2, allow_nan=False)


def check_finite(stack: np.ndarray, grid: Grid, targets: list[str], where: str) -> None:
    """Every member's every forecast finite (``stack``: ``(R, n, steps, n_targets)``)."""
    bad = ~np.isfinite(stack)
    if not bad.any():
        return
    r, i, h, j = (int(v) for v in np.argwhere(bad)[0])
    which = f" by member {r + 1}" if len(stack) > 1 else ""
    raise DataError(
        f"expected finite forecasts, found {stack[r, i, h, j]} for {targets[j]} at step "
        f"{h + 1} from {grid.origins[i]!r}{which}; the inputs are too far from the "
        "training data for this model",
        where=where,
    )


def forecast_table(
    fc: Forecast,
    grid: Grid,
    stack: np.ndarray,
    bounds: dict[float, tuple[np.ndarray, np.ndarray]],
    members: bool,
) -> Forecast:
    """``fc`` with its rows: ``stack`` ``(R, n, steps, n_targets)`` holds the members'
    forecasts on ``grid``; ``bounds`` each level's ``(lo, hi)``; ``members``: their columns."""
    targets = fc.targets
    if not stack.shape[1]:
        return fc
    # One member is the model itself: its forecasts, not a mean of one.
    center = stack[0] if len(stack) == 1 else ensemble(stack)
    columns: dict[str, np.ndarray] = {}
    for j, t in enumerate(targets):
        for level, (lo, hi) in bounds.items():
            columns[f"{t}_lo_{level_label(level)}"] = lo[..., j]
            columns[f"{t}_hi_{level_label(level)}"] = hi[..., j]
        for r in range(len(stack) if members else 0):
            columns[f"{t}_m{r + 1:02d}"] = stack[r, ..., j]
    fc.extra = list(columns)
    for i, origin in enumerate(grid.origins):
        for h, time in enumerate(grid.times[i]):
            row: dict[str, Any] = {"origin": origin, "step": h + 1, fc.time_name: time}
            row.update({t: float(center[i, h, j]) for j, t in enumerate(targets)})
            row.update({c: float(columns[c][i, h]) for c in fc.extra})
            fc.rows.append(row)
    return fc
