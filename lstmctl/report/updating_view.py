"""The update experiment's table: the schemes side by side over the repeats."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from lstmctl.report.table import _num, sparkline


def render_updating(comparison: Any, console: Console) -> None:
    """One row per scheme and metric: mean, std, min, median, max over the repeats."""
    summary = comparison.summary()
    table = Table(
        title=f"updating the model after each test step ({comparison.epochs} epochs per update)"
    )
    for col in ("scheme", "metric", "mean", "std", "min", "median", "max", "spread"):
        table.add_column(col, justify="left" if col in ("scheme", "metric") else "right")
    for scheme, metrics in summary.items():
        for m, s in metrics.items():
            cells = [_num(s[c]) for c in ("mean", "std", "min", "median", "max")]
            table.add_row(scheme, m, *cells, sparkline(s["values"]))
    console.print(table)
