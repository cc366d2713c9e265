"""The human view of ``lstmctl diagnose``: per-repeat verdicts, curves in a line, the verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from lstmctl.report.table import SPARK

COLORS = {"over-fit": "red", "under-fit": "yellow", "good fit": "green", "inconclusive": "dim"}


def curve_sparkline(values: Sequence[float], width: int = 24) -> str:
    """A loss curve in ``width`` characters, in epoch order (each a mean over its epochs)."""
    v = [float(x) for x in values]
    if not v:
        return ""
    n = min(width, len(v))
    bins = [v[i * len(v) // n : (i + 1) * len(v) // n] for i in range(n)]
    means = [sum(b) / len(b) for b in bins if b]
    finite = [x for x in means if math.isfinite(x)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    top = len(SPARK) - 1
    return "".join(
        SPARK[min(top, int((x - lo) / span * len(SPARK)))] if math.isfinite(x) else " "
        for x in means
    )


def render_diagnosis(diag: Any, console: Console) -> None:
    """Per-repeat table, then the verdict with its evidence and advice."""
    histories = diag.result.outputs.histories if diag.result.outputs is not None else {}
    table = Table(
        title=f"{diag.result.spec.name} — learning curves over {len(diag.repeats)} repeats "
        f"(validation {diag.validation})"
    )
    for col in ("repeat", "epochs", "best epoch", "train loss", "best val", "final val"):
        table.add_column(col, justify="right")
    table.add_column("train / val curve")
    table.add_column("verdict")
    for v in diag.repeats:
        hist = histories.get(v.repeat, {})
        curves = curve_sparkline(hist.get("loss", []), 16)
        if hist.get("val_loss"):
            curves += " " + curve_sparkline(hist["val_loss"], 16)
        color = COLORS.get(v.verdict, "")
        table.add_row(
            str(v.repeat),
            str(v.epochs),
            "-" if v.best_epoch is None else str(v.best_epoch),
            _num(v.train_final),
            _num(v.val_best),
            _num(v.val_final),
            curves,
            f"[{color}]{v.verdict}[/{color}]" if color else v.verdict,
        )
    console.print(table)
    color = COLORS.get(diag.verdict, "")
    console.print(f"verdict: [bold {color}]{diag.verdict}[/bold {color}] — {diag.reason}")
    if diag.advice:
        console.print(f"advice: {diag.advice}")
    if diag.plot is not None:
        console.print(f"learning curves: {diag.plot}")
    console.print(f"run directory: {diag.result.run_dir}")


def _num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.4g}"
