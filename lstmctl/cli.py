"""The ``lstmctl`` command: parse, call the library, render. No Keras here.

Results go to stdout; errors, logs and progress to stderr. Exit codes: 0 ok,
1 a run failed, 2 bad usage, spec or data, 130 interrupted.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from lstmctl import __version__
from lstmctl.errors import LstmctlError

app = typer.Typer(
    name="lstmctl",
    help="Run LSTM experiments from YAML specs, with honest repeated estimates of skill.",
    no_args_is_help=True,
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
        if _State.debug:
            raise
        err().print(f"[bold red]lstmctl: error:[/] {e}", markup=True, highlight=False)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        err().print("lstmctl: interrupted")
        raise typer.Exit(130) from None


SpecArg = Annotated[Path, typer.Argument(help="The YAML spec.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a key: --set model.units=8 (repeatable)."),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")]


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
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for run directories (default: runs/).")
    ] = None,
) -> None:
    """Fit the spec's repeats and print their skill beside the baseline."""
    from lstmctl.api import run as run_spec
    from lstmctl.report.progress import repeat_progress
    from lstmctl.spec import load_spec

    def go() -> Any:
        s = load_spec(spec, set_ or [])
        with repeat_progress(s.evaluate.repeats, s.train.epochs, _State.quiet) as progress:
            return run_spec(s, runs_dir=out_dir, progress=progress)

    _render_run(guarded(go), fmt)


def _render_run(result: Any, fmt: Format) -> None:
    if fmt is Format.json:
        print(json.dumps(result.to_json(), indent=2))
    elif fmt is Format.csv:
        from lstmctl.rundir import csv_text

        sys.stdout.write(csv_text([r.row() for r in result.rows]))
    else:
        from lstmctl.report.table import render_run

        render_run(result, out())


@app.command()
def validate(spec: SpecArg, set_: SetOpt = None) -> None:
    """Check a spec, its architecture and its data (loaded and prepared); exit 0 or 2."""
    from lstmctl.data.prepare import prepare
    from lstmctl.models.registry import get_builder
    from lstmctl.spec import load_spec

    def go() -> None:
        s = load_spec(spec, set_ or [])
        get_builder(s.model.arch)
        prepare(s)

    guarded(go)
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
    from lstmctl.catalog import catalog

    def go() -> dict[str, dict[str, str]]:
        return catalog(what)

    sections = guarded(go)
    if fmt is Format.json:
        print(json.dumps(sections, indent=2))
        return
    if fmt is Format.csv:
        print("kind,name,description")
        for kind, items in sections.items():
            for name, desc in items.items():
                print(f'{kind},{name},"{desc}"')
        return
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    for kind, items in sections.items():
        console.print(f"[bold]{kind}[/bold]")
        if not items:
            console.print("  (none)")
        for name, desc in items.items():
            console.print(f"  {name:<18} {desc}")


@app.command()
def init(
    arch: Annotated[str, typer.Argument(help="Architecture name (see `lstmctl list`).")] = (
        "vanilla"
    ),
) -> None:
    """Print a commented starter spec for an architecture."""
    from lstmctl.starter import starter_spec

    sys.stdout.write(guarded(lambda: starter_spec(arch)))


def main() -> None:
    """Console-script entry point."""
    # A shell starts background jobs with SIGINT ignored, and Python keeps it
    # so; `kill -INT` must still stop a run cleanly (finished repeats kept).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    app()


if __name__ == "__main__":
    main()
