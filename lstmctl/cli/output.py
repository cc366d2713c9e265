"""The one output layer: results on stdout as a table, JSON or CSV; the rest on stderr.

Every command writes its result through :func:`emit` (or :func:`text` for a
document such as YAML): JSON through the strict ``json_text`` (NaN and
infinities as null, as in results.json), CSV through the csv module
(``csv_text``), tables through rich. Nothing else in the CLI prints results.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from rich.console import Console


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def out() -> Console:
    """The console of results (stdout)."""
    # Built per call so tests that swap sys.stdout (CliRunner) are honoured.
    # Piped output is not cut to 80 columns: the tables stay whole.
    width = None if sys.stdout.isatty() else 160
    return Console(file=sys.stdout, highlight=False, width=width)


def err() -> Console:
    """The console of errors, notes and progress (stderr)."""
    # One error, one line: never wrapped.
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def note(line: str) -> None:
    """One plain line on stderr (not markup)."""
    err().print(line, markup=False)


def text(document: str) -> None:
    """A document (YAML, a starter spec) on stdout, as it is."""
    sys.stdout.write(document)


def print_json(data: Any) -> None:
    """``data`` on stdout as strict JSON: NaN and infinities as null, as in results.json."""
    from lstmctl.rundir import json_text

    print(json_text(data))


def emit(
    fmt: Format,
    data: Any,
    rows: Callable[[], list[dict[str, Any]]],
    table: Callable[[Console], None],
    columns: list[str] | None = None,
) -> None:
    """Write a result on stdout as JSON (``data``), CSV (``rows``) or a table: the one place.

    ``columns`` names the CSV's header when there may be no row to take it from.
    """
    if fmt is Format.json:
        print_json(data)
    elif fmt is Format.csv:
        from lstmctl.rundir import csv_text

        sys.stdout.write(csv_text(rows(), columns))
    else:
        table(out())


def plots(result: Any) -> None:
    """The paths of a run's plots and report, on stderr (``--plot``)."""
    for path in result.outputs.plots:
        note(f"plot: {path}")
    note(f"report: {result.run_dir / 'report.html'}")


def stream(pieces: Iterable[str]) -> None:
    """Text on stdout as it comes, piece by piece, then a newline."""
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
