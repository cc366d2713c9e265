"""``tune``: search hyperparameters, every trial scored over repeats."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lstmctl.cli.app import FormatOpt, OutOpt, SetOpt, _State, app, at_least, guarded
from lstmctl.cli.output import Format, emit, note


@app.command()
def tune(
    spec: Annotated[
        Path | None,
        typer.Argument(help="The YAML spec, with a tune section.", show_default=False),
    ] = None,
    set_: SetOpt = None,
    fmt: FormatOpt = Format.table,
    out_dir: OutOpt = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Continue the study of this tune run directory."),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Database URL of a shared study (postgresql://...); default: SQLite in the "
            "run directory.",
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name in the storage (default: the spec's).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-w",
            callback=at_least(1),
            help="Local worker processes on the same study.",
        ),
    ] = 1,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also write the box plot of the repeats here (PNG)."),
    ] = None,
) -> None:
    """Search hyperparameters; every trial is scored over repeats. Prints trials and best spec."""
    from lstmctl import api
    from lstmctl.tuning.report import render_tune

    show = not _State.quiet and sys.stderr.isatty()

    def go() -> Any:
        return api.tune(
            spec,
            set_ or [],
            resume=resume,
            storage=storage,
            study=study,
            workers=workers,
            runs_dir=out_dir,
            plot=plot,
            progress=note if show else None,
        )

    result = guarded(go)
    for line in result.notes:
        note(f"lstmctl: {line}")
    emit(fmt, result.to_json(), result.csv_rows, lambda console: render_tune(result, console))
    if result.plot is not None:  # else a note above says why not
        note(f"plot: {result.plot}")
