"""``runs list``, ``runs show`` and ``runs compare``: the run directories read back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from lstmctl.cli.app import FormatOpt, app, at_least, finite, guarded
from lstmctl.cli.output import Format, emit, note

runs_app = typer.Typer(help="List, show and compare past runs (the run directories).")
app.add_typer(runs_app, name="runs")

RunsDirOpt = Annotated[Path, typer.Option("--dir", "-d", help="The folder of run directories.")]
RunArg = Annotated[
    str,
    typer.Argument(
        help="A run directory, its folder name, or a spec name (its latest run).",
        show_default=False,
    ),
]


@runs_app.command("list")
def runs_list(
    name: Annotated[str | None, typer.Argument(help="Only the runs of this spec name.")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    fmt: FormatOpt = Format.table,
    metric: Annotated[
        str | None,
        typer.Option("--metric", "-m", help="Metric to show (default: each run's first)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", callback=at_least(1), help="Newest N runs only.")
    ] = None,
) -> None:
    """List past runs, newest first: name, date, arch, metric mean ± std, duration, state."""
    from lstmctl import api
    from lstmctl.history.view import render_list

    def damaged(e: Exception) -> None:
        note(f"lstmctl: skipped a damaged run: {e}")

    records = guarded(lambda: api.find_runs(runs_dir, name, damaged))[: limit if limit else None]
    rows = [r.row(metric) for r in records]

    def table(console: Console) -> None:
        if not records:
            note(f"no runs in {runs_dir}")
        else:
            render_list(records, console, metric)

    emit(fmt, rows, lambda: rows, table)


@runs_app.command("show")
def runs_show(
    run: RunArg, runs_dir: RunsDirOpt = Path("runs"), fmt: FormatOpt = Format.table
) -> None:
    """Show one past run (its summary, repeats and files) or tune study (its trials, best)."""
    from lstmctl import api
    from lstmctl.history.view import render_show

    rec = guarded(lambda: api.show_run(run, runs_dir))
    emit(fmt, rec.to_json(), rec.rows, lambda console: render_show(rec, console))


@runs_app.command("compare")
def runs_compare(
    run_a: RunArg,
    run_b: RunArg,
    runs_dir: RunsDirOpt = Path("runs"),
    fmt: FormatOpt = Format.table,
    test: Annotated[
        str, typer.Option("--test", help="welch (Welch's t-test) or mannwhitney (Mann-Whitney U).")
    ] = "welch",
    alpha: Annotated[
        float, typer.Option("--alpha", callback=finite, help="Significance level.")
    ] = 0.05,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write box plots of both runs' scores (PNG).")
    ] = None,
) -> None:
    """Compare two runs metric by metric: the difference and whether it is significant."""
    from lstmctl import api
    from lstmctl.history.view import render_compare

    def go() -> Any:
        return api.compare_runs(run_a, run_b, runs_dir, alpha=alpha, test=test, plot=plot)

    cmp = guarded(go)
    emit(fmt, cmp.to_json(), cmp.rows, lambda console: render_compare(cmp, console))
    if plot is not None:
        note(f"plot: {guarded(lambda: api.plot_comparison(cmp, plot))}")
