"""The view of ``lstmctl predict``: the forecasts as a table (``--format table``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def render_forecast(fc: Any, console: Console) -> None:
    """One row per (origin, step), numbers to six significant digits."""
    table = Table()
    for c in fc.columns():
        table.add_column(c, justify="right")
    for row in fc.rows:
        table.add_row(*(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)
