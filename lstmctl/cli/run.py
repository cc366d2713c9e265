"""``run``, ``validate``, ``show-config``, ``list`` and ``init``: the spec's own commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from lstmctl.cli.app import (
    FormatOpt,
    OutOpt,
    PlotFlag,
    SetOpt,
    SpecArg,
    _State,
    app,
    at_least,
    guarded,
)
from lstmctl.cli.output import Format, emit, err, note, plots, text


@app.command()
def run(
    spec: SpecArg,
    set_: SetOpt = None,
    fmt: FormatOpt = Format.table,
    out_dir: OutOpt = None,
    plot: PlotFlag = False,
    mlflow: Annotated[
        bool,
        typer.Option("--mlflow", help="Log to MLflow (tracking.mlflow, default mlruns/)."),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", "-j", callback=at_least(1), help="backend tensorflow: worker processes."
        ),
    ] = None,
) -> None:
    """Fit the spec's repeats and print their skill beside the baseline."""
    from lstmctl import api
    from lstmctl.report.progress import repeat_progress

    def go() -> Any:
        overrides = [*(set_ or []), *([f"train.jobs={jobs}"] if jobs else [])]
        s = api.resolve_spec(spec, overrides, mlflow=mlflow)
        if s.compare:  # variants side by side (lstmctl.workflows.compare)
            return api.run_compare(
                s,
                out_dir,
                lambda v: repeat_progress(v.evaluate.repeats, v.train.epochs, _State.quiet),
            )
        with repeat_progress(s.evaluate.repeats, s.train.epochs, _State.quiet) as progress:
            return api.run(s, runs_dir=out_dir, progress=progress)

    result = guarded(go)
    if hasattr(result, "variants"):
        _render_compare(result, fmt)
        return
    _render_run(result, fmt)
    if result.samples and fmt is Format.table and not _State.quiet:
        _print_samples(result.samples)
    if plot:
        plots(result)


def _print_samples(samples: list[dict[str, Any]]) -> None:
    # Generated text is a sample for the eye, not a result to parse: stderr.
    first = samples[0]
    note(f"samples from repeat {first['repeat']} (all in samples.txt):")
    for s in [s for s in samples if s["prompt"] == first["prompt"]]:
        note(f"  T={s['temperature']}: [{s['prompt']}]{s['text']}")


def _render_compare(result: Any, fmt: Format) -> None:
    from lstmctl.report.compare import compare_rows, render_compare

    data = result.to_json()
    emit(fmt, data, lambda: compare_rows(data), lambda console: render_compare(result, console))


def _render_run(result: Any, fmt: Format) -> None:
    from lstmctl.report.table import render_run
    from lstmctl.report.updating_view import render_updating

    def table(console: Console) -> None:
        render_run(result, console)
        if getattr(result, "updating", None) is not None:
            render_updating(result.updating, console)

    emit(fmt, result.to_json(), lambda: [r.row() for r in result.rows], table)


@app.command()
def validate(spec: SpecArg, set_: SetOpt = None) -> None:
    """Check a spec, its architecture and its data (loaded and prepared); exit 0 or 2."""
    from lstmctl import api

    guarded(lambda: api.validate(spec, set_ or []))
    err().print(f"{spec}: ok")


@app.command("show-config")
def show_config(spec: SpecArg, set_: SetOpt = None) -> None:
    """Print the resolved spec as YAML, with every default filled in."""
    from lstmctl import api

    s = guarded(lambda: api.resolve_spec(spec, set_ or []))
    text(s.to_yaml())


@app.command("list")
def list_(
    what: Annotated[
        str | None, typer.Argument(help="architectures, problems or metrics (default: all).")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List architectures, problems and metrics."""
    from lstmctl import api
    from lstmctl.report.catalog_view import catalog_rows, render_catalog

    sections = guarded(lambda: api.catalog(what))
    emit(fmt, sections, lambda: catalog_rows(sections), lambda c: render_catalog(sections, c))


@app.command()
def init(
    arch: Annotated[str, typer.Argument(help="Architecture name (see `lstmctl list`).")] = (
        "vanilla"
    ),
) -> None:
    """Print a commented starter spec for an architecture."""
    from lstmctl import api

    text(guarded(lambda: api.starter_spec(arch)))
