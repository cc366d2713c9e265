"""The ``lstmctl`` command: parse, call the library, render. No Keras here.

Results go to stdout; errors, logs and progress to stderr. Exit codes: 0 ok,
1 a run failed, 2 bad usage, spec or data, 130 interrupted (Ctrl-C), 143
terminated (SIGTERM).
"""

from __future__ import annotations

import logging
import math
import sys
import traceback
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from lstmctl import __version__
from lstmctl.errors import LstmctlError

# Click's base of the errors it shows (usage errors among them). Newer Typer
# vendors Click, older Typer depends on it: found through Typer's own re-export.
_ClickError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class _Commands(TyperGroup):
    """The ``lstmctl`` group: a usage error is one ``lstmctl: error:`` line, like any other.

    Click would print a usage block (boxed by Typer) and the whole help for a bare
    ``lstmctl``; here Click runs with ``standalone_mode=False`` and its errors come
    back to be shown in one place. Help goes to stdout only when asked for.
    """

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # a caller that handles Click's errors itself
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name or "lstmctl", complete_var, False, **extra)
        except _ClickError as e:
            err().print(f"lstmctl: error: {_usage_line(e)}", markup=False, highlight=False)
            sys.exit(int(getattr(e, "exit_code", 2)))
        except typer.Abort:
            err().print("lstmctl: aborted", markup=False)
            sys.exit(1)
        # Without standalone mode Click returns an Exit's code instead of exiting.
        sys.exit(code if isinstance(code, int) else 0)


def _usage_line(e: Exception) -> str:
    """``COMMAND: WHAT (see 'lstmctl COMMAND --help')`` on one line."""
    ctx = getattr(e, "ctx", None)
    path = ctx.command_path if ctx is not None else "lstmctl"
    where = path.partition(" ")[2]  # the (sub)command, without the program's name
    fmt = getattr(e, "format_message", None)
    text = " ".join(str(fmt() if fmt else e).split()).rstrip(".")
    # Typer >= 0.2x words a bad choice as a validation error ("Value error, 'xml' is ...").
    text = text.replace("Value error, ", "")
    group = ctx.command if ctx is not None else None
    if isinstance(group, TyperGroup) and text.startswith(("Missing command", "No such command")):
        names = ", ".join(n for n, c in group.commands.items() if not c.hidden)
        missing = text.startswith("Missing")
        text = f"expected a command: {names}" if missing else f"{text}; the commands: {names}"
    return f"{where + ': ' if where else ''}{text} (see '{path} --help')"


app = typer.Typer(
    name="lstmctl",
    cls=_Commands,
    help="Run LSTM experiments from YAML specs, with honest repeated estimates of skill.",
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class _State:
    debug = False
    quiet = False


def out() -> Console:
    # Built per call so tests that swap sys.stdout (CliRunner) are honoured.
    # Piped output is not cut to 80 columns: the tables stay whole.
    width = None if sys.stdout.isatty() else 160
    return Console(file=sys.stdout, highlight=False, width=width)


def err() -> Console:
    # One error, one line: never wrapped.
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``; show a library error once, as one line, and exit with its code."""
    try:
        return fn()
    except LstmctlError as e:
        if _State.debug:  # the traceback as well, and the same line and exit code
            traceback.print_exc(file=sys.stderr)
        # Escaped: messages quote user input and names like lstmctl[mlflow], not markup.
        err().print(f"[bold red]lstmctl: error:[/] {escape(str(e))}", markup=True, highlight=False)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt as e:
        from lstmctl import signals

        err().print(f"lstmctl: {signals.interrupted(signals.signum_of(e))}", markup=False)
        raise typer.Exit(signals.exit_code(e)) from None
    except OSError as e:
        # A filesystem fault no library path turned into an error of its own
        # (disk full, a folder gone): one line naming the file, not a traceback.
        if isinstance(e, BrokenPipeError):
            raise
        if _State.debug:
            traceback.print_exc(file=sys.stderr)
        what = f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)
        err().print(f"[bold red]lstmctl: error:[/] {escape(what)}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    except Exception as e:
        # Memory ran out where no stage foresaw it (NumPy's MemoryError, XLA's
        # RESOURCE_EXHAUSTED): one line, exit 1. Anything else is a bug: its traceback.
        from lstmctl.memory import out_of_memory

        oom = out_of_memory(e)
        if oom is None:
            raise
        if _State.debug:
            traceback.print_exc(file=sys.stderr)
        err().print(f"[bold red]lstmctl: error:[/] {escape(oom)}", markup=True, highlight=False)
        raise typer.Exit(1) from None


def print_json(data: Any) -> None:
    """``data`` on stdout as strict JSON: NaN and infinities as null, as in results.json."""
    from lstmctl.rundir import json_text

    print(json_text(data))


def emit(
    fmt: Format,
    data: Any,
    rows: Callable[[], list[dict[str, Any]]],
    table: Callable[[Console], None],
) -> None:
    """Write a result on stdout as JSON, CSV (``rows``) or a table: the one place formats split."""
    if fmt is Format.json:
        print_json(data)
    elif fmt is Format.csv:
        from lstmctl.rundir import csv_text

        sys.stdout.write(csv_text(rows()))
    else:
        table(out())


SpecArg = Annotated[Path, typer.Argument(help="The YAML spec.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a key: --set model.units=8 (repeatable)."),
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Folder for run directories (default: runs/).")
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")]


def _at_least(low: float, above: bool = False) -> Callable[[Any], Any]:
    """An option callback: a finite number >= ``low`` (> with ``above``), else a usage error.

    NaN passes every comparison, so Typer's ``min=`` lets ``--temperature nan`` through.
    """

    def check(value: Any) -> Any:
        if value is None:
            return value
        ok = math.isfinite(value) and (value > low if above else value >= low)
        if not ok:
            bound = f"{'>' if above else '>='} {low:g}"
            kind = "an integer" if isinstance(value, int) else "a finite number"
            raise typer.BadParameter(f"expected {kind} {bound}, found {value}")
        return value

    return check


def _finite(value: Any) -> Any:
    """An option callback: any finite number (NaN and infinities are usage errors)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"expected a finite number, found {value}")
    return value


def _version(value: bool) -> None:
    if value:
        print(f"lstmctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log each stage on stderr.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    """Run LSTM experiments from YAML specs, with honest repeated estimates of skill."""
    _State.debug = debug
    _State.quiet = quiet
    if verbose or debug:
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="lstmctl: %(message)s", force=True
        )


@app.command()
def run(
    spec: SpecArg,
    set_: SetOpt = None,
    fmt: FormatOpt = Format.table,
    out_dir: OutOpt = None,
    plot: Annotated[
        bool, typer.Option("--plot", help="Print the paths of the run's plots on stderr.")
    ] = False,
    mlflow: Annotated[
        bool,
        typer.Option("--mlflow", help="Log to MLflow (tracking.mlflow, default mlruns/)."),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", "-j", callback=_at_least(1), help="backend tensorflow: worker processes."
        ),
    ] = None,
) -> None:
    """Fit the spec's repeats and print their skill beside the baseline."""
    from lstmctl.api import run as run_spec
    from lstmctl.report.progress import repeat_progress
    from lstmctl.report.tracking import with_mlflow
    from lstmctl.spec import load_spec

    def go() -> Any:
        s = load_spec(spec, [*(set_ or []), *([f"train.jobs={jobs}"] if jobs else [])])
        if mlflow:
            s = with_mlflow(s)
        if s.compare:  # variants side by side (lstmctl.workflows.compare)
            from lstmctl.workflows.compare import run_compare

            return run_compare(
                s,
                out_dir,
                lambda v: repeat_progress(v.evaluate.repeats, v.train.epochs, _State.quiet),
            )
        with repeat_progress(s.evaluate.repeats, s.train.epochs, _State.quiet) as progress:
            return run_spec(s, runs_dir=out_dir, progress=progress)

    result = guarded(go)
    if hasattr(result, "variants"):
        _render_compare(result, fmt)
        return
    _render_run(result, fmt)
    if result.samples and fmt is Format.table and not _State.quiet:
        _print_samples(result.samples)
    if plot:
        _print_plots(result)


def _print_samples(samples: list[dict[str, Any]]) -> None:
    # Generated text is a sample for the eye, not a result to parse: stderr.
    first = samples[0]
    err().print(f"samples from repeat {first['repeat']} (all in samples.txt):", markup=False)
    for s in [s for s in samples if s["prompt"] == first["prompt"]]:
        err().print(f"  T={s['temperature']}: [{s['prompt']}]{s['text']}", markup=False)


def _print_plots(result: Any) -> None:
    for path in result.outputs.plots:
        err().print(f"plot: {path}", markup=False)
    err().print(f"report: {result.run_dir / 'report.html'}", markup=False)


def _render_compare(result: Any, fmt: Format) -> None:
    from lstmctl.report.compare import compare_rows, render_compare

    if fmt is Format.json:
        print_json(result.to_json())
    elif fmt is Format.csv:
        from lstmctl.rundir import csv_text

        sys.stdout.write(csv_text(compare_rows(result.to_json())))
    else:
        render_compare(result, out())


def _render_run(result: Any, fmt: Format) -> None:
    if fmt is Format.json:
        print_json(result.to_json())
    elif fmt is Format.csv:
        from lstmctl.rundir import csv_text

        sys.stdout.write(csv_text([r.row() for r in result.rows]))
    else:
        from lstmctl.report.table import render_run

        render_run(result, out())
        if getattr(result, "updating", None) is not None:
            from lstmctl.report.updating_view import render_updating

            render_updating(result.updating, out())


@app.command()
def validate(spec: SpecArg, set_: SetOpt = None) -> None:
    """Check a spec, its architecture and its data (loaded and prepared); exit 0 or 2."""
    from lstmctl.api import validate as validate_spec

    guarded(lambda: validate_spec(spec, set_ or []))
    err().print(f"{spec}: ok")


@app.command("show-config")
def show_config(spec: SpecArg, set_: SetOpt = None) -> None:
    """Print the resolved spec as YAML, with every default filled in."""
    from lstmctl.spec import load_spec

    s = guarded(lambda: load_spec(spec, set_ or []))
    sys.stdout.write(s.to_yaml())


@app.command("list")
def list_(
    what: Annotated[
        str | None, typer.Argument(help="architectures, problems or metrics (default: all).")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List architectures, problems and metrics."""
    from lstmctl.workflows.catalog import catalog

    def go() -> dict[str, dict[str, str]]:
        return catalog(what)

    sections = guarded(go)

    def rows() -> list[dict[str, Any]]:
        return [
            {"kind": kind, "name": name, "description": desc}
            for kind, items in sections.items()
            for name, desc in items.items()
        ]

    def table(_: Console) -> None:
        console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
        for kind, items in sections.items():
            console.print(f"[bold]{kind}[/bold]")
            if not items:
                console.print("  (none)")
            for name, desc in items.items():
                # Escaped: descriptions are text, and may hold [brackets].
                console.print(f"  {name:<18} {escape(desc)}")

    emit(fmt, sections, rows, table)


@app.command()
def init(
    arch: Annotated[str, typer.Argument(help="Architecture name (see `lstmctl list`).")] = (
        "vanilla"
    ),
) -> None:
    """Print a commented starter spec for an architecture."""
    from lstmctl.workflows.starter import starter_spec

    sys.stdout.write(guarded(lambda: starter_spec(arch)))


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
            callback=_at_least(1),
            help="Repeats to fit (default: the spec's, at most 5).",
        ),
    ] = None,
    validation: Annotated[
        float | None,
        typer.Option(
            "--validation",
            callback=_at_least(0, above=True),
            help="Validation split: a fraction or a number of rows (default: the spec's, "
            "else 0.2).",
        ),
    ] = None,
    out_dir: OutOpt = None,
    plot: Annotated[
        bool, typer.Option("--plot", help="Print the paths of the run's plots on stderr.")
    ] = False,
) -> None:
    """Plot train and validation loss per epoch and judge: under-fit, good fit or over-fit."""
    from lstmctl.report.progress import repeat_progress
    from lstmctl.spec import load_spec
    from lstmctl.workflows.diagnose import diagnose as run_diagnose
    from lstmctl.workflows.diagnose import diagnosis_repeats

    def go() -> Any:
        s = load_spec(spec, set_ or [])
        n = diagnosis_repeats(s, repeats)
        with repeat_progress(n, s.train.epochs, _State.quiet) as progress:
            return run_diagnose(
                s, runs_dir=out_dir, repeats=repeats, validation=validation, progress=progress
            )

    diag = guarded(go)
    from lstmctl.report.diagnosis_view import render_diagnosis

    emit(fmt, diag.to_json(), diag.rows, lambda console: render_diagnosis(diag, console))
    if plot:
        _print_plots(diag.result)


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
        int | None, typer.Option("--limit", "-n", callback=_at_least(1), help="Newest N runs only.")
    ] = None,
) -> None:
    """List past runs, newest first: name, date, arch, metric mean ± std, duration, state."""
    from lstmctl.history.runs import find_runs

    def damaged(e: Exception) -> None:
        err().print(f"lstmctl: skipped a damaged run: {e}", markup=False)

    records = guarded(lambda: find_runs(runs_dir, name, damaged))[: limit if limit else None]
    rows = [r.row(metric) for r in records]
    if fmt is Format.json:
        print_json(rows)
    elif fmt is Format.csv:
        from lstmctl.rundir import csv_text

        sys.stdout.write(csv_text(rows))
    elif not records:
        err().print(f"no runs in {runs_dir}", markup=False)
    else:
        from lstmctl.history.view import render_list

        render_list(records, out(), metric)


@runs_app.command("show")
def runs_show(
    run: RunArg, runs_dir: RunsDirOpt = Path("runs"), fmt: FormatOpt = Format.table
) -> None:
    """Show one past run (its summary, repeats and files) or tune study (its trials, best)."""
    from lstmctl.history.runs import load_run, resolve_run

    rec = guarded(lambda: load_run(resolve_run(run, runs_dir)))
    from lstmctl.history.view import render_show

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
        float, typer.Option("--alpha", callback=_finite, help="Significance level.")
    ] = 0.05,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write box plots of both runs' scores (PNG).")
    ] = None,
) -> None:
    """Compare two runs metric by metric: the difference and whether it is significant."""
    from lstmctl.history.runs import compare_runs, load_run, plot_comparison, resolve_run

    def go() -> Any:
        if plot is not None:
            from lstmctl.targets import check_plot_target

            check_plot_target(plot)  # before the table: a bad target prints nothing
        a = load_run(resolve_run(run_a, runs_dir))
        b = load_run(resolve_run(run_b, runs_dir))
        return compare_runs(a, b, alpha=alpha, test=test)

    cmp = guarded(go)
    from lstmctl.history.view import render_compare

    emit(fmt, cmp.to_json(), cmp.rows, lambda console: render_compare(cmp, console))
    if plot is not None:
        err().print(f"plot: {guarded(lambda: plot_comparison(cmp, plot))}", markup=False)


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
    force: ForceOpt = False,
    no_onnx: NoOnnxOpt = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Fit one model on all the data (seed = spec.seed) and save a model directory."""
    from lstmctl.report.progress import repeat_progress
    from lstmctl.spec import load_spec
    from lstmctl.workflows.lifecycle import finalize as finalize_spec

    def go() -> Any:
        s = load_spec(spec, set_ or [])
        with repeat_progress(1, s.train.epochs, _State.quiet) as progress:
            return finalize_spec(s, out_dir, force=force, onnx=not no_onnx, progress=progress)

    _render_saved(guarded(go), fmt)


def _render_saved(saved: Any, fmt: Format) -> None:
    from lstmctl.report.saved_view import saved_lines, saved_row

    emit(
        fmt,
        saved.to_json(),
        lambda: [saved_row(saved)],
        lambda console: console.print(saved_lines(saved), end="", markup=False, soft_wrap=True),
    )


@app.command()
def predict(
    model: ModelOpt,
    input_: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="New rows (CSV or JSON lines with the training columns); - reads stdin.",
        ),
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(
            "--horizon",
            "-k",
            callback=_at_least(1),
            help="Forecast K steps ahead (at most 10000), feeding forecasts back.",
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="auto (model.onnx when saved), onnx or keras.")
    ] = "auto",
    no_history: Annotated[
        bool,
        typer.Option(
            "--no-history", help="The input carries its own history: do not prepend the saved rows."
        ),
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="csv, json or table.")] = Format.csv,
) -> None:
    """Forecast with a saved model: at every new row, or K steps ahead; CSV on stdout."""
    from lstmctl.serving.predict import predict as predict_rows

    def go() -> Any:
        text = None
        if input_ == "-":
            text = sys.stdin.read()
        elif input_ is not None:
            from lstmctl.serving.predict import read_input

            text = read_input(input_)
        return predict_rows(model, text, horizon=horizon, engine=engine, history=not no_history)

    fc = guarded(go)
    if fmt is Format.json:
        print(fc.json())
    elif fmt is Format.table:
        from rich.table import Table

        table = Table()
        for c in fc.columns():
            table.add_column(c, justify="right")
        for row in fc.rows:
            table.add_row(*(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values()))
        out().print(table)
    else:
        sys.stdout.write(fc.csv())


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
        typer.Option("--epochs", "-e", callback=_at_least(1), help="Epochs of continued training."),
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
    from lstmctl.report.progress import repeat_progress
    from lstmctl.workflows.lifecycle import update as update_model

    def go() -> Any:
        text = sys.stdin.read() if data == "-" else None
        with repeat_progress(1, epochs or 1, _State.quiet) as progress:
            return update_model(
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
        int, typer.Option("--length", "-n", callback=_at_least(0), help="Tokens to sample.")
    ] = 200,
    temperature: Annotated[
        float,
        typer.Option(
            "--temperature",
            "-t",
            callback=_at_least(0),
            help="0: always the likeliest; >1: wilder.",
        ),
    ] = 1.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Make the sample repeatable.")] = None,
) -> None:
    """Sample text from a generative model, streamed to stdout as it is drawn."""
    from lstmctl.workflows.lifecycle import generate as generate_text

    def go() -> None:
        for piece in generate_text(model, prompt, length, temperature, seed):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")

    guarded(go)


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
            callback=_at_least(1),
            help="Local worker processes on the same study.",
        ),
    ] = 1,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also write the box plot of the repeats here (PNG)."),
    ] = None,
) -> None:
    """Search hyperparameters; every trial is scored over repeats. Prints trials and best spec."""
    from lstmctl.api import tune as tune_spec

    def progress(line: str) -> None:
        err().print(line, markup=False)

    show = not _State.quiet and sys.stderr.isatty()

    def go() -> Any:
        return tune_spec(
            spec,
            set_ or [],
            resume=resume,
            storage=storage,
            study=study,
            workers=workers,
            runs_dir=out_dir,
            plot=plot,
            progress=progress if show else None,
        )

    result = guarded(go)
    for note in result.notes:
        err().print(f"lstmctl: {note}", markup=False)
    from lstmctl.tuning.report import render_tune

    emit(fmt, result.to_json(), result.csv_rows, lambda console: render_tune(result, console))
    if result.plot is not None:  # else a note above says why not
        err().print(f"plot: {result.plot}", markup=False)


def main() -> None:
    """Console-script entry point."""
    from lstmctl import signals

    # SIGINT and SIGTERM stop a command cleanly (what finished is kept) with
    # status 128 + the signal, also in a background job, which a shell starts
    # with SIGINT ignored. The library itself installs no handler.
    with signals.handled():
        try:
            app()
        except SystemExit as e:
            sig = signals.received()
            if sig is not None and e.code not in (0, None):
                # Typer reports a KeyboardInterrupt outside guarded() as 130, whatever the signal.
                raise SystemExit(128 + sig) from None
            raise


if __name__ == "__main__":
    main()
