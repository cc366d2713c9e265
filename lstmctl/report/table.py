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

    # With several baselines the summary's skill is against the best one; the
    # comparison table lists them all.
    shown = data["baselines"]
    best = data.get("best_baseline")
    if len(shown) > 1 and best in shown:
        shown = {best: shown[best]}
    title = "summary (original units; skill = improvement over the baseline"
    title += f": the best, {best})" if len(data["baselines"]) > 1 and best else ")"
    summary = Table(title=title)
    summary.add_column("metric")
    for col in ("mean", "std", "min", "median", "max"):
        summary.add_column(col, justify="right")
    for name in shown:
        summary.add_column(name, justify="right")
        summary.add_column("skill", justify="right")
    summary.add_column("spread")
    for m in metrics:
        s = data["metrics"][m]
        cells = [_num(s[c]) for c in ("mean", "std", "min", "median", "max")]
        for name, base in shown.items():
            cells.append(_num(base.get(m)))
            skill = data["skill"].get(name, {}).get(m)
            cells.append("-" if skill is None else f"{skill:+.1%}")
        summary.add_row(m, *cells, sparkline(s["values"]))
    console.print(summary)
    if data.get("per_series"):
        from lstmctl.report.panel_view import series_table

        shown_series = series_table(data)
        if shown_series is not None:
            console.print(shown_series[0])
            console.print(shown_series[1])
    if "ensemble" in data:
        console.print(_compared(data, metrics))
        if data.get("significance"):
            console.print(_verdict(data["significance"], data["repeats"]))
    if data.get("intervals"):
        console.print(_interval_table(data))
    if data.get("backtest"):
        from lstmctl.report.backtest_view import render_backtest

        render_backtest(data["backtest"], console)
    state = "complete" if data["complete"] else "INCOMPLETE"
    failed = f", {len(data['failed'])} failed" if data["failed"] else ""
    console.print(
        f"{data['repeats']} repeats{failed} on {data['test_windows']} test windows, "
        f"{data['seconds']:.1f} s ({data['trainer']} trainer), {state}: {data['run_dir']}"
    )


def _compared(data: dict[str, Any], metrics: list[str]) -> Table:
    """The forecasts side by side: the repeats (mean ± std), their ensemble, each baseline."""
    ens = data["ensemble"]
    table = Table(title="forecasts compared on the same test targets")
    table.add_column("forecast")
    shown = [m for m in metrics if m in ens]
    for m in shown:
        table.add_column(m, justify="right")
    table.add_row(
        f"repeats (mean ± std of {data['repeats']})",
        *(f"{_num(data['metrics'][m]['mean'])} ± {_num(data['metrics'][m]['std'])}" for m in shown),
    )
    table.add_row(f"ensemble of {ens['members']}", *(_num(ens[m]) for m in shown))
    for name, base in data["baselines"].items():
        table.add_row(name, *(_num(base.get(m)) for m in shown))
    return table


def _verdict(sig: dict[str, Any], repeats: int) -> str:
    """One line in words: is the ensemble's advantage over the best baseline real?"""
    share = sig.get("repeats_better")
    beat = f"; {round(share * repeats)} of {repeats} repeats beat it" if share is not None else ""
    return f"verdict ({sig['metric']}, {sig['test']}): the ensemble is {sig['verdict']}{beat}"


def _interval_table(data: dict[str, Any]) -> Table:
    cal = data.get("calibration") or {}
    title = "prediction intervals on the test part"
    if cal.get("windows"):
        title += f" (conformal, calibrated on {cal['windows']} validation windows)"
    table = Table(title=title)
    for col in ("level", "coverage", "width", "winkler", "pinball lo", "pinball hi"):
        table.add_column(col, justify="right")
    for level, sc in data["intervals"].items():
        table.add_row(
            f"{float(level):.0%}",
            f"{sc['coverage']:.0%}",
            *(_num(sc[k]) for k in ("width", "winkler", "pinball_lo", "pinball_hi")),
        )
    crps = data["ensemble"].get("crps")
    if crps is not None:
        table.caption = f"CRPS of the ensemble: {_num(crps)}"
    return table
