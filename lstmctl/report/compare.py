"""The human and machine views of a comparison: one row per variant."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from lstmctl.report.table import _num


def compare_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per variant (for CSV): mean, std, min, max of each metric."""
    rows = []
    for v in data["variants"]:
        row: dict[str, Any] = {"variant": v["variant"], "repeats": v.get("repeats", 0)}
        for m in data["metrics"]:
            s = v.get("metrics", {}).get(m, {})
            for stat in ("mean", "std", "min", "max"):
                row[f"{m}_{stat}"] = s.get(stat, "")
        row["seconds"] = v.get("seconds", "")
        row["error"] = v.get("error") or ""
        rows.append(row)
    return rows


def _labels(variants: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The variant column's header and cells: just the values when one key varies."""
    keys = {o.partition("=")[0] for v in variants for o in v["overrides"]}
    if len(keys) == 1 and all(len(v["overrides"]) == 1 for v in variants):
        return keys.pop(), [v["overrides"][0].partition("=")[2] for v in variants]
    return "variant", [v["variant"] for v in variants]


def render_compare(result: Any, console: Console) -> None:
    """Variants side by side: each metric's mean ± std and range, the baseline, the best."""
    data = result.to_json()
    metrics, best, variants = data["metrics"], data["best"], data["variants"]
    header, labels = _labels(variants)
    table = Table(title=f"{data['name']} — {len(variants)} variants, repeats summarised")
    table.add_column(header, no_wrap=True)
    table.add_column("repeats", justify="right")
    for m in metrics:
        table.add_column(f"{m} mean ± std", justify="right")
        table.add_column("min .. max", justify="right")
    baselines: dict[str, dict[str, float]] = {}
    for v in variants:
        for name, scores in v.get("baselines", {}).items():
            baselines.setdefault(name, scores)
    shown = [(name, m) for name, scores in baselines.items() for m in metrics if m in scores]
    for name, m in shown:
        table.add_column(f"{name} {m}", justify="right")
    table.add_column("seconds", justify="right")
    for label, v in zip(labels, variants, strict=True):
        if "metrics" not in v:
            table.add_row(label, "", f"[red]{v.get('error')}[/red]")
            continue
        cells = [label, str(v["repeats"])]
        for m in metrics:
            s = v["metrics"].get(m, {})
            mean = f"{_num(s.get('mean'))} ± {_num(s.get('std'))}"
            cells.append(f"[bold]{mean}[/bold] *" if best.get(m) == v["variant"] else mean)
            cells.append(f"{_num(s.get('min'))} .. {_num(s.get('max'))}")
        cells += [_num(v["baselines"].get(name, {}).get(m)) for name, m in shown]
        cells.append(f"{v['seconds']:.1f}")
        table.add_row(*cells)
    console.print(table)
    if any(v.get("error") for v in variants):
        for label, v in zip(labels, variants, strict=True):
            if v.get("error"):
                console.print(f"[red]{label}: {v['error']}[/red]")
    state = "complete" if data["complete"] else "INCOMPLETE"
    console.print(
        f"* best mean; {data['seconds']:.1f} s, {state}: {data['run_dir']} "
        "(each variant's run directory inside)"
    )
