"""The Typer app: the group that makes a usage error one line, global options, guarded().

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
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from typer.core import TyperGroup

from lstmctl import __version__
from lstmctl.cli.output import Format, err, text
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


class _State:
    debug = False
    quiet = False


def _error_line(what: str) -> None:
    # Escaped: messages quote user input and names like lstmctl[mlflow], not markup.
    err().print(f"[bold red]lstmctl: error:[/] {escape(what)}", markup=True, highlight=False)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``; show a library error once, as one line, and exit with its code."""
    from lstmctl import signals

    try:
        result = fn()
        # A signal whose exception was dropped on the way (see lstmctl.signals) and
        # met no later check still ends the command as the signal asked.
        signals.check()
        return result
    except LstmctlError as e:
        if _State.debug:  # the traceback as well, and the same line and exit code
            traceback.print_exc(file=sys.stderr)
        _error_line(str(e))
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt as e:
        err().print(f"lstmctl: {signals.interrupted(signals.signum_of(e))}", markup=False)
        raise typer.Exit(signals.exit_code(e)) from None
    except OSError as e:
        # A filesystem fault no library path turned into an error of its own
        # (disk full, a folder gone): one line naming the file, not a traceback.
        if isinstance(e, BrokenPipeError):
            raise
        if _State.debug:
            traceback.print_exc(file=sys.stderr)
        _error_line(f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e))
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
        _error_line(oom)
        raise typer.Exit(1) from None


# ------------------------------------------------------------------ shared arguments and options

SpecArg = Annotated[Path, typer.Argument(help="The YAML spec.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a key: --set model.units=8 (repeatable)."),
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Folder for run directories (default: runs/).")
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")]
PlotFlag = Annotated[
    bool, typer.Option("--plot", help="Print the paths of the run's plots on stderr.")
]


def at_least(low: float, above: bool = False) -> Callable[[Any], Any]:
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


def finite(value: Any) -> Any:
    """An option callback: any finite number (NaN and infinities are usage errors)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"expected a finite number, found {value}")
    return value


def _version(value: bool) -> None:
    if value:
        text(f"lstmctl {__version__}\n")
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


def main() -> None:
    """Console-script entry point (``lstmctl.cli:main``; the package registers the commands)."""
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
