"""The human view of a study: the trials table, best first, then the best spec."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from lstmctl.spec.tune_space import decode
from lstmctl.tuning.results import TuneResult, _plain


def _num(x: Any) -> str:
    if not isinstance(x, int | float) or not math.isfinite(x):
        return "-"
    return f"{x:.3f}" if abs(x) < 1e5 else f"{x:.4g}"


def short_names(keys: list[str]) -> dict[str, str]:
    """``model.units`` -> ``units`` where the last part is unambiguous."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def render_tune(result: TuneResult, console: Console) -> None:
    """Print the trials table and the best configuration as spec YAML."""
    metric, kind = result.metric, result.summary_kind
    keys = [str(k) for k in _space_keys(result)]
    names = short_names(keys)
    counts = result.counts()
    parts = ", ".join(f"{n} {state}" for state, n in counts.items())
    table = Table(
        title=f"{result.spec.name} — study {result.study_name}: {metric} {kind} over "
        f"{result.tune.repeats or result.spec.evaluate.repeats} repeats per trial"
        f"{result.pooled}, "
        f"{result.tune.objective.direction}, {result.tune.strategy} ({parts or 'no trials'})"
    )
    table.add_column("trial", justify="right")
    for k in keys:
        table.add_column(names[k], justify="right")
    for col in ("mean", "std", "min", "median", "max"):
        table.add_column(col, justify="right")
    table.add_column("repeats", justify="right")
    table.add_column("state")
    table.add_column("note")
    for r in result.rows:
        style = {"pruned": "yellow", "failed": "red", "running": "dim"}.get(r.state, "")
        table.add_row(
            str(r.number),
            *(_cell(r.params.get(k)) for k in keys),
            *(_num(r.summary.get(c)) for c in ("mean", "std", "min", "median", "max")),
            str(r.repeats),
            f"[{style}]{r.state}[/{style}]" if style else r.state,
            r.note,
        )
    console.print(table)
    best = result.best
    state = "complete" if result.complete else "INCOMPLETE (resume with --resume)"
    span = "" if result.study_seconds is None else f", study {result.study_seconds:.1f} s"
    console.print(
        f"{len(result.rows)} trials in {result.seconds:.1f} s{span} "
        f"({result.workers} worker{'s' if result.workers > 1 else ''}), {state}: {result.run_dir}"
    )
    if best is None:
        console.print("no trial completed: there is no best configuration")
        return
    base = " ".join(f"{k} {v:.3f}" for k, v in best.baseline.items())
    console.print(
        f"best: trial #{best.number}, {metric} {best.summary['mean']:.3f} ± "
        f"{best.summary['std']:.3f} (mean ± std over {best.repeats} repeats{result.pooled})"
        + (f"; baseline {base}" if base else "")
    )
    console.print()
    console.print(result.best_yaml(), markup=False, highlight=False, end="")


def _space_keys(result: TuneResult) -> list[str]:
    from lstmctl.spec.tune_space import flatten_space

    return list(flatten_space(result.tune.space))


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(_plain(v))


def trial_line(frozen: Any, ctx: Any) -> str:
    """One line on stderr per finished trial (progress)."""
    tune = ctx.tune
    metric = tune.objective.metric
    params = decode(ctx.dims, dict(frozen.params))
    names = short_names(list(params))
    desc = " ".join(f"{names[k]}={_cell(v)}" for k, v in params.items())
    values = [v for v in (frozen.user_attrs.get("scores") or {}).get(metric, []) if v is not None]
    state = frozen.state.name.lower()
    if values:
        mean = sum(values) / len(values)
        bt = ctx.spec.evaluate.backtest
        pooled = "" if bt is None else f", pooled over {bt.folds} folds"
        score = f"{metric} {mean:.3f} over {len(values)} repeats{pooled}"
    else:
        score = str(frozen.user_attrs.get("error", "no scores"))
    secs = frozen.user_attrs.get("seconds")
    took = f" ({secs:.1f} s)" if isinstance(secs, int | float) else ""
    return f"trial #{frozen.number} {state}: {desc}: {score}{took}"
