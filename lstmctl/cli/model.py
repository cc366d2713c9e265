"""``finalize``, ``predict``, ``update`` and ``generate``: the model directory's commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lstmctl.cli.app import FormatOpt, SetOpt, SpecArg, _State, app, at_least, guarded
from lstmctl.cli.output import Format, emit, stream
from lstmctl.errors import UsageError

ModelOpt = Annotated[
    Path, typer.Option("--model", "-m", help="A model directory (from `lstmctl finalize`).")
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing model directory.")]
NoOnnxOpt = Annotated[
    bool, typer.Option("--no-onnx", help="Do not export model.onnx (the fast predict path).")
]


@app.command()
def finalize(
    spec: SpecArg,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="The model directory to write (saved/NAME).")
    ],
    set_: SetOpt = None,
    members: Annotated[
        int,
        typer.Option(
            "--members",
            callback=at_least(1),
            help="Members of the ensemble (seeds spec.seed + i), trained together. 10: their "
            "mean forecasts better than one model, and 10 give a spread wide enough to "
            "calibrate prediction intervals on (predict --interval). 1: one model and no "
            "intervals, saved as before.",
        ),
    ] = 10,
    force: ForceOpt = False,
    no_onnx: NoOnnxOpt = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Fit an ensemble (or one model) on all the data and save a model directory."""
    from lstmctl import api
    from lstmctl.report.progress import repeat_progress

    def go() -> Any:
        s = api.resolve_spec(spec, set_ or [])
        with repeat_progress(members, s.train.epochs, _State.quiet) as progress:
            return api.finalize(
                s, out_dir, force=force, onnx=not no_onnx, progress=progress, members=members
            )

    _render_saved(guarded(go), fmt)


def _render_saved(saved: Any, fmt: Format) -> None:
    from lstmctl.report.saved_view import render_saved, saved_row

    emit(fmt, saved.to_json(), lambda: [saved_row(saved)], lambda c: render_saved(saved, c))


InputOpt = Annotated[
    str | None,
    typer.Option(
        "--input",
        "-i",
        help="New rows (CSV or JSON lines with the training columns); - reads stdin.",
    ),
]
HorizonOpt = Annotated[
    int | None,
    typer.Option(
        "--horizon",
        "-k",
        callback=at_least(1),
        help="Forecast K steps ahead (at most 10000), feeding forecasts back.",
    ),
]
NoHistoryOpt = Annotated[
    bool,
    typer.Option(
        "--no-history", help="The input carries its own history: do not prepend the saved rows."
    ),
]
IntervalOpt = Annotated[
    list[float] | None,
    typer.Option(
        "--interval",
        help="Add an ensemble's prediction interval at this level (0.8: columns "
        "<target>_lo_80, <target>_hi_80); repeatable. Only when asked.",
    ),
]
SeriesOpt = Annotated[
    str | None,
    typer.Option(
        "--series",
        help="A panel's series to forecast, comma-separated (A,B); all by default.",
    ),
]
FutureOpt = Annotated[
    str | None,
    typer.Option(
        "--future",
        help="A panel's known covariates at the forecast steps: rows series, time, "
        "known... (CSV or JSON lines); - reads stdin.",
    ),
]


@app.command()
def predict(
    model: ModelOpt,
    input_: InputOpt = None,
    horizon: HorizonOpt = None,
    engine: Annotated[
        str, typer.Option("--engine", help="auto (model.onnx when saved), onnx or keras.")
    ] = "auto",
    no_history: NoHistoryOpt = False,
    interval: IntervalOpt = None,
    members: Annotated[
        bool,
        typer.Option("--members", help="Add each member's forecast (<target>_m01, ...)."),
    ] = False,
    series: SeriesOpt = None,
    future: FutureOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="csv, json or table.")] = Format.csv,
) -> None:
    """Forecast with a saved model (an ensemble's mean): at every new row, or K steps ahead."""
    from lstmctl import api
    from lstmctl.report.forecast_view import render_forecast

    def read(source: str | None, option: str) -> str | None:
        if source == "-":
            return sys.stdin.read()
        return None if source is None else api.read_input(source, option)

    def ids(value: str | None) -> list[str] | None:
        # An empty --series ('' or ',') asks for nothing: a usage error, not every series.
        # A panel's predictor says the same (serving.panel.NO_SERIES; the bad-inputs case
        # serving-series-empty checks both); this covers a one-series model too.
        found = None if value is None else [v for v in value.split(",") if v.strip()]
        if found == []:
            raise UsageError("expected series ids, comma-separated (A,B), found none", "--series")
        return found

    def go() -> Any:
        if input_ == "-" and future == "-":
            raise UsageError("only one of --input and --future can read stdin", "--future")
        return api.predict(
            model,
            read(input_, "--input"),
            horizon=horizon,
            engine=engine,
            history=not no_history,
            intervals=interval or (),
            members=members,
            series=ids(series),
            future=read(future, "--future"),
        )

    fc = guarded(go)
    emit(
        fmt,
        fc.rows,
        lambda: fc.rows,
        lambda console: render_forecast(fc, console),
        columns=fc.columns(),
    )


@app.command()
def update(
    model: ModelOpt,
    data: Annotated[
        str,
        typer.Option("--data", "-d", help="The new rows: a CSV with the training columns, or -."),
    ],
    scheme: Annotated[
        str, typer.Option("--scheme", help="fine-tune, fine-tune-all or refit.")
    ] = "fine-tune",
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", "-e", callback=at_least(1), help="Epochs of continued training."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where the updated model goes.")
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Replace the model directory itself.")
    ] = False,
    force: ForceOpt = False,
    no_onnx: NoOnnxOpt = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Keep a saved model current with new observations (lesson 13's update schemes)."""
    from lstmctl import api
    from lstmctl.report.progress import repeat_progress

    def go() -> Any:
        text = sys.stdin.read() if data == "-" else None
        with repeat_progress(1, epochs or 1, _State.quiet) as progress:
            return api.update(
                model,
                None if text is not None else data,
                scheme=scheme,
                epochs=epochs,
                out=out_dir,
                in_place=in_place,
                force=force,
                onnx=not no_onnx,
                text=text,
                progress=progress,
            )

    _render_saved(guarded(go), fmt)


@app.command()
def generate(
    model: Annotated[
        Path, typer.Option("--model", "-m", help="A saved generative model (finalize).")
    ],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="Text to continue.")] = "",
    length: Annotated[
        int, typer.Option("--length", "-n", callback=at_least(0), help="Tokens to sample.")
    ] = 200,
    temperature: Annotated[
        float,
        typer.Option(
            "--temperature",
            "-t",
            callback=at_least(0),
            help="0: always the likeliest; >1: wilder.",
        ),
    ] = 1.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Make the sample repeatable.")] = None,
) -> None:
    """Sample text from a generative model, streamed to stdout as it is drawn."""
    from lstmctl import api

    guarded(lambda: stream(api.generate(model, prompt, length, temperature, seed)))
