"""The human view of a backtest: per-fold scores beside the baselines, pooled, the verdict.

Both read the ``backtest`` block of the results JSON (see
:mod:`lstmctl.evaluation.backtest`), so the table and the chart show exactly
what ``--format json`` holds. The chart (``backtest.png`` in the run
directory) draws the first metric per fold: the LSTM's mean with its spread
over repeats (± one std) and each baseline as a line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

LSTM_COLOR = "#d62728"
# One color per baseline (none red, the LSTM's), each with its own line style.
BASELINE_COLORS = ["#7f7f7f", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#ff7f0e"]


def _num(x: Any) -> str:
    if x is None or not math.isfinite(float(x)):
        return "-"
    x = float(x)
    return f"{x:.3f}" if abs(x) < 1e5 else f"{x:.4g}"


def _mean_std(summary: dict[str, Any]) -> str:
    return f"{_num(summary.get('mean'))} ± {_num(summary.get('std'))}"


def backtest_lines(backtest: dict[str, Any], metric: str) -> list[list[str]]:
    """The table's rows: one per fold, then ``pooled`` (fold, test, train rows, LSTM, baselines)."""
    rows = []
    for fold in backtest["folds"]:
        rows.append(
            [
                str(fold["fold"]),
                f"{fold['test'][0]} .. {fold['test'][1]}",
                str(fold["train_rows"]),
                _mean_std(fold["metrics"][metric]),
                *(_num(b.get(metric)) for b in fold["baselines"].values()),
            ]
        )
    pooled = backtest["pooled"]
    rows.append(
        [
            "pooled",
            "",
            "",
            _mean_std(pooled["metrics"][metric]),
            *(_num(b.get(metric)) for b in pooled["baselines"].values()),
        ]
    )
    return rows


def render_backtest(backtest: dict[str, Any], console: Console) -> None:
    """Print one table per metric (folds, then pooled) and the pooled verdict."""
    pooled = backtest["pooled"]
    baselines = list(pooled["baselines"])
    for metric in pooled["metrics"]:
        table = Table(title=f"backtest: {metric} per fold (LSTM mean ± std over repeats)")
        for col in ("fold", "test", "train rows", "lstm"):
            table.add_column(col, justify="left" if col == "test" else "right")
        for name in baselines:
            table.add_column(name, justify="right")
        for row in backtest_lines(backtest, metric):
            table.add_row(*row)
        console.print(table)
    sig = pooled.get("significance")
    if sig:
        share = sig.get("repeats_better")
        beat = (
            "" if share is None or not math.isfinite(share) else f"; {share:.0%} of repeats beat it"
        )
        console.print(f"pooled verdict ({sig['metric']}, {sig['of']}): {sig['verdict']}{beat}")


def backtest_chart(backtest: dict[str, Any], path: Path) -> Path | None:
    """``backtest.png``: the first metric per fold, the LSTM (mean ± std) and the baselines."""
    from matplotlib.figure import Figure

    from lstmctl.report.plots import DPI
    from lstmctl.targets import write_file_atomic

    folds = backtest["folds"]
    if not folds:
        return None
    metric = next(iter(folds[0]["metrics"]))
    x = [f["fold"] for f in folds]
    mean = [float(f["metrics"][metric]["mean"]) for f in folds]
    std = [float(f["metrics"][metric]["std"]) for f in folds]
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ax.errorbar(x, mean, yerr=std, color=LSTM_COLOR, marker="o", capsize=3, label="lstm")
    styles = ["--", ":", "-.", (0, (5, 1)), (0, (1, 3))]
    for k, name in enumerate(folds[0]["baselines"]):
        ys = [float(f["baselines"][name].get(metric, math.nan)) for f in folds]
        ax.plot(
            x,
            ys,
            color=BASELINE_COLORS[k % len(BASELINE_COLORS)],
            linestyle=styles[k % len(styles)],
            marker=".",
            label=name,
        )
    ax.set_xticks(x, [f"{f['fold']}\n{f['test'][0]}" for f in folds])
    ax.set_xlabel("fold (first test label)")
    ax.set_ylabel(f"{metric} (original units)")
    ax.set_title(f"backtest: {metric} per fold")
    ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_file_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))
