"""The human view of a run: one row per repeat, then the summary beside the baseline."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

SPARK = "▁▂▃▄▅▆▇█"


def _num(x: Any) -> str:
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return "nan"
    return f"{x:.3f}" if abs(x) < 1e5 else f"{x:.4g}"


def sparkline(values: list[float]) -> str:
    """A one-line picture of the spread of repeat scores (sorted, low to high)."""
    v = sorted(x for x in values if math.isfinite(x))
    if not v:
        return ""
    lo, hi = v[0], v[-1]
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((x - lo) / span * len(SPARK)))] for x in v)


def render_run(result: Any, console: Console) -> None:
    """Print the per-repeat table and the summary table."""
    data = result.to_json()
    metrics = list(data["metrics"])
    repeats = Table(title=f"{data['name']} — {data['arch']}, {len(result.rows)} repeats")
    repeats.add_column("repeat", justify="right")
    repeats.add_column("seed", justify="right")
    for m in metrics:
        repeats.add_column(m, justify="right")
    repeats.add_column("epochs", justify="right")
    repeats.add_column("note")
    for r in result.rows:
        repeats.add_row(
            str(r.repeat),
            str(r.seed),
            *(_num(r.scores[m]) for m in metrics),
            str(r.epochs),
            f"[red]{r.error}[/red]" if r.error else "",
        )
    console.print(repeats)

    summary = Table(title="summary (original units; skill = improvement over the baseline)")
    summary.add_column("metric")
    for col in ("mean", "std", "min", "median", "max"):
        summary.add_column(col, justify="right")
    for name in data["baselines"]:
        summary.add_column(name, justify="right")
        summary.add_column("skill", justify="right")
    summary.add_column("spread")
    for m in metrics:
        s = data["metrics"][m]
        cells = [_num(s[c]) for c in ("mean", "std", "min", "median", "max")]
        for name, base in data["baselines"].items():
            cells.append(_num(base.get(m)))
            skill = data["skill"].get(name, {}).get(m)
            cells.append("-" if skill is None else f"{skill:+.1%}")
        summary.add_row(m, *cells, sparkline(s["values"]))
    console.print(summary)
    state = "complete" if data["complete"] else "INCOMPLETE"
    failed = f", {len(data['failed'])} failed" if data["failed"] else ""
    console.print(
        f"{data['repeats']} repeats{failed} on {data['test_windows']} test windows, "
        f"{data['seconds']:.1f} s ({data['trainer']} trainer), {state}: {data['run_dir']}"
    )
