"""The human views of ``lstmctl runs list|show|compare`` (rich tables on stdout)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lstmctl.history.compare import Comparison
from lstmctl.history.record import RunRecord
from lstmctl.report.table import sparkline


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    x = float(x)
    return f"{x:.{digits}g}" if abs(x) >= 1e4 or (x and abs(x) < 1e-2) else f"{x:.3f}"


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _trials(n: int) -> str:
    return f"{n} trial{'s' if n != 1 else ''}"


def render_list(records: list[RunRecord], console: Console, metric: str | None = None) -> None:
    """One row per run, newest first."""
    table = Table(title=f"{len(records)} run{'s' if len(records) != 1 else ''}")
    for col, justify in (
        ("run", "left"),
        ("started", "left"),
        ("arch", "left"),
        ("metric", "left"),
        ("mean ± std", "right"),
        ("repeats", "right"),
        ("seconds", "right"),
        ("state", "left"),
        ("spread", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for rec in records:
        row = rec.row(metric)
        score = "-" if row["mean"] is None else f"{_num(row['mean'])} ± {_num(row['std'])}"
        state = row["state"]
        table.add_row(
            row["run"],
            row["started"],
            row["arch"],
            row["metric"],
            score,
            str(row["repeats"]) if row["trials"] is None else _trials(row["trials"]),
            "-" if row["seconds"] is None else f"{row['seconds']:.1f}",
            state if state.startswith("complete") else f"[yellow]{state}[/yellow]",
            sparkline(rec.values(row["metric"])) if row["metric"] else "",
        )
    console.print(table)


def render_show(rec: RunRecord, console: Console) -> None:
    """A past run: what it was, its summary beside the baselines, its repeats and files."""
    if rec.kind == "tune":
        render_study(rec, console)
        return
    res = rec.results
    console.print(f"[bold]{rec.name}[/bold] — {rec.arch}  ({rec.path})")
    started = rec.started.isoformat(sep=" ") if rec.started else "?"
    console.print(
        f"started {started}; {res.get('repeats', 0)} of {res.get('repeats_requested', '?')} "
        f"repeats on {res.get('test_windows', '?')} test windows; "
        f"{float(res.get('seconds') or 0):.1f} s ({res.get('trainer', '?')} trainer); {rec.state}"
    )
    diag = rec.path / "diagnosis.json"
    if diag.exists():
        import json

        d = json.loads(diag.read_text(encoding="utf-8"))
        console.print(f"diagnosis: [bold]{d.get('verdict')}[/bold] — {d.get('reason', '')}")
    summary = Table(title="summary (original units)")
    summary.add_column("metric")
    for col in ("mean", "std", "min", "median", "max"):
        summary.add_column(col, justify="right")
    baselines: dict[str, dict[str, float]] = res.get("baselines") or {}
    for name in baselines:
        summary.add_column(name, justify="right")
        summary.add_column("skill", justify="right")
    summary.add_column("spread")
    for m, s in rec.metrics.items():
        cells = [_num(s.get(c)) for c in ("mean", "std", "min", "median", "max")]
        for name, base in baselines.items():
            cells.append(_num(base.get(m)))
            sk = ((res.get("skill") or {}).get(name) or {}).get(m)
            cells.append("-" if sk is None else f"{sk:+.1%}")
        summary.add_row(m, *cells, sparkline(rec.values(m)))
    console.print(summary)
    per = res.get("per_repeat") or []
    if per:
        repeats = Table(title="repeats")
        cols = [c for c in per[0] if c != "error"]
        for c in cols:
            repeats.add_column(c, justify="right")
        repeats.add_column("note")
        for r in per:
            cells = [
                str(r.get(c)) if c in ("repeat", "seed", "epochs") else _num(r.get(c)) for c in cols
            ]
            repeats.add_row(*cells, f"[red]{r['error']}[/red]" if r.get("error") else "")
        console.print(repeats)
    _print_files(rec, console)


def _print_files(rec: RunRecord, console: Console) -> None:
    files = rec.files()
    shown = [f for f in files if not f.startswith("history/")]
    hist = len(files) - len(shown)
    console.print(
        "files: " + ", ".join(shown) + (f", history/ ({hist} repeats)" if hist else ""),
        markup=False,
    )


def render_study(rec: RunRecord, console: Console) -> None:
    """A past tune study: its objective, its trials best first, the best configuration."""
    res = rec.results
    obj = res.get("objective") or {}
    metric, summary = str(obj.get("metric", "?")), str(obj.get("summary", "mean"))
    console.print(
        f"[bold]{escape(rec.name)}[/bold] — tune study {escape(str(res.get('study', '?')))} "
        f"({res.get('strategy', '?')}: {summary} {metric}, {obj.get('direction', '?')})  "
        f"({escape(str(rec.path))})"
    )
    trials = rec.trials
    states: dict[str, int] = {}
    for t in trials:
        states[str(t.get("state"))] = states.get(str(t.get("state")), 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in states.items())
    started = rec.started.isoformat(sep=" ") if rec.started else "?"
    console.print(
        f"started {started}; {_trials(len(trials))}{f' ({counts})' if counts else ''}, "
        f"{res.get('repeats_per_trial', '?')} repeats each; "
        f"{float(res.get('seconds') or 0):.1f} s; {rec.state}",
        markup=False,
    )
    best = rec.best
    if best is not None:
        s = rec.metrics.get(metric) or {}
        params = ", ".join(f"{k}={v}" for k, v in (best.get("params") or {}).items())
        console.print(
            f"best: trial #{best.get('trial')}, {metric} {_num(s.get('mean'))} ± "
            f"{_num(s.get('std'))} over {rec.repeats} repeats: {params}",
            markup=False,
        )
    else:
        console.print("best: none (no trial completed)", markup=False)
    rows = rec.rows()
    if rows:
        table = Table(title="trials (best first)")
        names = [k for k in rows[0] if k not in _TRIAL_COLS and not k.startswith(f"{metric}_")]
        for col in ("trial", "state", *names):
            table.add_column(col)
        for col in (f"{metric} {summary}", "std", "repeats", "seconds"):
            table.add_column(col, justify="right")
        table.add_column("note")
        for r in rows:
            table.add_row(
                str(r["trial"]),
                str(r["state"]),
                *(escape(str(r.get(p, ""))) for p in names),
                _num(r.get(f"{metric}_{summary}")),
                _num(r.get(f"{metric}_std")),
                str(r.get("repeats") or 0),
                "-" if r.get("seconds") is None else f"{float(r['seconds']):.1f}",
                escape(str(r.get("note") or "")),
            )
        console.print(table)
    _print_files(rec, console)


_TRIAL_COLS = ("trial", "state", "repeats", "seconds", "note")


def render_compare(cmp: Comparison, console: Console) -> None:
    """Metrics side by side: A, B, the difference and whether it is significant."""
    test = {"welch": "Welch's t-test", "mannwhitney": "Mann-Whitney U"}[cmp.test]
    console.print(f"A: {cmp.a.path}  ({cmp.a.name}, {cmp.a.arch})")
    console.print(f"B: {cmp.b.path}  ({cmp.b.name}, {cmp.b.arch})")
    table = Table(title=f"B vs A over the repeats ({test}, alpha {cmp.alpha:g})")
    table.add_column("metric")
    for col in ("A mean ± std (n)", "B mean ± std (n)", "B - A", "change", "welch p", "mw p"):
        table.add_column(col, justify="right")
    table.add_column("verdict")
    for m in cmp.metrics:

        def side(s: dict[str, Any]) -> str:
            if s["mean"] is None:
                return "-"
            return f"{_num(s['mean'])} ± {_num(s['std'])} ({s['n']})"

        if m.significant and m.better:
            verdict = f"[green]{m.better.upper()} better[/green] (p {_p(m.p)})"
        elif m.p is None:
            verdict = "too few repeats"
        else:
            verdict = "no significant difference"
        table.add_row(
            m.metric,
            side(m.a),
            side(m.b),
            "-" if m.diff is None else f"{m.diff:+.4g}",
            "-" if m.rel is None else f"{m.rel:+.1%}",
            _p(m.welch_p),
            _p(m.mannwhitney_p),
            verdict,
        )
    console.print(table)
    for note in cmp.notes:
        console.print(f"note: {note}")
