"""The new rows of ``update``: read from ``--data``, appended to the saved ones, and data
errors about the combined rows worded with the file and line each row came from.

A panel's new rows may leave out its static columns, as ``predict --input`` rows
may: each row then takes its series' saved value (the model reads those). Where
they are given, the combined rows are checked as training rows are: a static
value must stay the same within a series.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from lstmctl.data.loading import read_text_file
from lstmctl.data.reading import sniff_delimiter
from lstmctl.errors import DataError, UsageError
from lstmctl.spec import Spec
from lstmctl.workflows.modelfiles import file_columns, with_points

__all__ = ["append_csv", "new_rows_csv", "relocate", "rows_named_by_origin"]


# "line 63", "lines 61 and 63": how data errors name rows of a CSV.
_LINES = re.compile(r"\b(lines? )(\d+)(?:( and )(\d+))?")


@contextmanager
def rows_named_by_origin(combined: Path, origins: list[tuple[str, int]]) -> Iterator[None]:
    """Data errors about the combined (saved + new) CSV name the file and line each row came from.

    ``origins[i]`` is the file and line of the combined file's row i (line i + 2):
    the user's ``--data`` file, or the model's own data.csv.
    """
    try:
        yield
    except DataError as e:
        tmp = str(combined)
        if tmp not in str(e):
            raise
        raise DataError(*relocate(e.message, e.where, tmp, origins)) from None


def relocate(
    message: str, where: str | None, tmp: str, origins: list[tuple[str, int]]
) -> tuple[str, str | None]:
    def origin(line: int) -> tuple[str, int]:
        return origins[line - 2] if 0 <= line - 2 < len(origins) else (tmp, line)

    # The file of the first line named is the error's file; another file is named by line.
    first = _LINES.search(f"{where or ''} {message}")
    file = origin(int(first.group(2)))[0] if first else origins[-1][0]

    def lines(m: re.Match[str]) -> str:
        found = [origin(int(n)) for n in (m.group(2), m.group(4)) if n]
        if all(f == file for f, _ in found):
            return m.group(1) + " and ".join(str(n) for _, n in found)
        return " and ".join(f"line {n}" + ("" if f == file else f" of {f}") for f, n in found)

    def fix(text: str) -> str:
        return _LINES.sub(lines, text).replace(tmp, file)

    return fix(message), None if where is None else fix(where)


def new_rows_csv(
    spec: Spec, data: str | Path | None, text: str | None
) -> tuple[str, list[tuple[str, int]]]:
    """The new rows' training columns as CSV, and each row's file and line (for errors)."""
    if (data is None) == (text is None):
        raise UsageError("give the new rows with --data FILE (or - for stdin)", where="--data")
    source = "--data" if data is None or str(data) == "-" else str(data)
    if text is None:
        text = read_text_file(Path(str(data)), source)
    if not text.strip():
        raise DataError("expected a header line and data rows, found an empty file", source)
    try:
        # Blank lines read as empty rows and then left out, so each row keeps its line number.
        sep = sniff_delimiter(text)
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        msg = " ".join(str(e).split())
        raise DataError(f"expected CSV with a header line ({msg})", source) from None
    optional = set(spec.data.static) if spec.data.is_panel else set()
    cols = [c for c in file_columns(spec) if c in raw.columns or c not in optional]
    absent = [c for c in cols if c not in raw.columns]
    if absent:
        raise DataError(
            f"expected the training columns {', '.join(cols)}, found no {', '.join(absent)}",
            where=f"{source}: column {absent[0]}",
        )
    raw.index = pd.RangeIndex(2, 2 + len(raw))  # the header is line 1
    raw = with_points(raw[raw[cols].notna().any(axis=1)][cols], spec, sep != ",")
    if raw.empty:
        raise DataError("expected new rows after the header line, found none", where=source)
    lines = [(source, int(n)) for n in raw.index]
    return str(raw[cols].to_csv(index=False, lineterminator="\n")), lines


def append_csv(
    old: str, new: str, old_source: str, new_lines: list[tuple[str, int]]
) -> tuple[str, list[tuple[str, int]]]:
    """The saved rows then the new ones, as CSV, and each row's file and line.

    A column of the saved rows that the new ones lack (a panel's static column, see
    :func:`new_rows_csv`) takes each new row's series' saved value."""
    a = pd.read_csv(io.StringIO(old), dtype=str)
    b = pd.read_csv(io.StringIO(new), dtype=str)
    for col in [c for c in a.columns if c not in b.columns]:
        b[col] = _saved_values(a, b, col)
    b = b[list(a.columns)]
    text = str(pd.concat([a, b], ignore_index=True).to_csv(index=False, lineterminator="\n"))
    return text, [(old_source, i + 2) for i in range(len(a))] + new_lines


def _saved_values(old: pd.DataFrame, new: pd.DataFrame, col: str) -> pd.Series:
    """Column ``col`` of the saved rows ``old`` for each new row, by its series.

    A model's data.csv starts with the series columns (``file_columns``); a static
    column is constant within each series, so the shortest run of leading columns
    that determines it in the saved rows is (a part of) the series id. A row of a
    series the saved rows lack gets nothing, and the model's checks name that series.
    """
    shared = [c for c in old.columns if c in new.columns]
    for n in range(1, len(shared) + 1):
        key = shared[:n]
        per = old.groupby(key, dropna=False)[col].nunique(dropna=False)
        if (per <= 1).all():
            saved = old.drop_duplicates(key).set_index(key)[col]
            at = pd.MultiIndex.from_frame(new[key]) if n > 1 else pd.Index(new[key[0]])
            return pd.Series(saved.reindex(at).to_numpy(), index=new.index, dtype=object)
    return pd.Series(None, index=new.index, dtype=object)
