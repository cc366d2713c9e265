"""``diagnose``: learning curves and a verdict (under-fit, good fit, over-fit)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

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
from lstmctl.cli.output import Format, emit, plots


@app.command()
def diagnose(
    spec: SpecArg,
    set_: SetOpt = None,
    fmt: FormatOpt = Format.table,
    repeats: Annotated[
        int | None,
        typer.Option(
            "--repeats",
            "-r",
            callback=at_least(1),
            help="Repeats to fit (default: the spec's, at most 5).",
        ),
    ] = None,
    validation: Annotated[
        float | None,
        typer.Option(
            "--validation",
            callback=at_least(0, above=True),
            help="Validation split: a fraction or a number of rows (default: the spec's, "
            "else 0.2).",
        ),
    ] = None,
    out_dir: OutOpt = None,
    plot: PlotFlag = False,
) -> None:
    """Plot train and validation loss per epoch and judge: under-fit, good fit or over-fit."""
    from lstmctl import api
    from lstmctl.report.diagnosis_view import render_diagnosis
    from lstmctl.report.progress import repeat_progress

    def go() -> Any:
        s = api.resolve_spec(spec, set_ or [])
        n = api.diagnosis_repeats(s, repeats)
        with repeat_progress(n, s.train.epochs, _State.quiet) as progress:
            return api.diagnose(
                s, runs_dir=out_dir, repeats=repeats, validation=validation, progress=progress
            )

    diag = guarded(go)
    emit(fmt, diag.to_json(), diag.rows, lambda console: render_diagnosis(diag, console))
    if plot:
        plots(diag.result)
