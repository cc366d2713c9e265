"""Reading a data file into rows of text and numbers: CSV (delimiter sniffed) or Parquet.

:func:`read_table` picks the format by suffix (``.parquet``/``.pq`` is
Parquet, anything else CSV) and returns a :class:`Table` whose rows are
indexed by where a user finds them: the CSV line (the header is line 1) or
the Parquet row (the first row is row 1). Which columns a spec uses and how
they become numbers is :mod:`lstmctl.data.loading`'s business.

CSV files may be separated by commas, semicolons, tabs or pipes; the
delimiter is sniffed from the header line and the first rows (see
:func:`sniff_delimiter`). pyarrow is imported only when a Parquet file is
read, so the command line starts fast; without it installed, reading one is a
DataError that says to install it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from lstmctl.errors import DataError, undecodable

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DELIMITERS",
    "PARQUET_SUFFIXES",
    "Table",
    "check_fields",
    "read_table",
    "release_arrow_memory",
    "read_text_file",
    "sniff_delimiter",
]

DELIMITERS = (",", ";", "\t", "|")
PARQUET_SUFFIXES = (".parquet", ".pq")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Sniffing looks at the start of the file only: enough rows to see a ragged
# one, few enough that a large file costs nothing extra.
_SAMPLE_CHARS = 64 * 1024
_SAMPLE_ROWS = 50
# Rows pandas parses at a time (see :func:`_read_csv`).
_CHUNK_ROWS = 2_000


@dataclass(frozen=True)
class Table:
    """A data file's rows, all columns, before any is checked against a spec.

    ``rows`` holds CSV values as text (missing ones NaN) and Parquet values
    with their types (integers, floats, timestamps; other values as text).
    Its index is the CSV line or the Parquet row of each row, and its name
    (``"line"`` or ``"row"``) is the word errors use. ``delimiter`` is the
    CSV's, or None for Parquet.
    """

    rows: pd.DataFrame
    header: list[str]
    delimiter: str | None

    @property
    def decimal_comma(self) -> bool:
        """Whether a comma may be a decimal mark: in a CSV not separated by commas."""
        return self.delimiter is not None and self.delimiter != ","


def read_table(source: str) -> Table:
    """The rows of the CSV or Parquet file ``source``, or one DataError naming it."""
    path = Path(source)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return _read_parquet(path, source)
    return _read_csv(source)


def release_arrow_memory() -> None:
    """Hand back to the system what pyarrow's memory pool holds unused.

    pandas keeps text in pyarrow arrays, and the pool keeps what they freed for
    itself: memory numpy and Python cannot reuse, so a large table read stays
    in the process's footprint after its text is gone. Nothing to do when
    pyarrow was never imported.
    """
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        pa.default_memory_pool().release_unused()


# --------------------------------------------------------------------------- CSV


def read_text_file(path: Path, source: str) -> str:
    """A data file's text (UTF-8, a byte-order mark dropped), or one DataError naming it."""
    _check_file(path, source, "a CSV file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        line, found = undecodable(e)
        raise DataError(
            f"expected UTF-8 text, {found} on line {line} ({e.reason}); save the file as UTF-8",
            where=source,
        ) from None


def sniff_delimiter(text: str) -> str:
    """The CSV's delimiter among :data:`DELIMITERS`; a comma when none stands out.

    Each candidate splits the header line and the first rows (quotes
    respected, so a quoted "a, b" is one field). A delimiter that gives every
    row as many fields as the header beats one that does not, then more
    fields win, then the earlier candidate. The header decides most files:
    names rarely hold a delimiter, while values may (a semicolon file's
    decimal commas, "1,5", split into two fields but the header does not, so
    a comma is not mistaken for the delimiter there). A single-column file
    is read with commas, as before sniffing existed.
    """
    sample, truncated = _sample(text)
    best, best_key = ",", (False, 1)
    for delimiter in DELIMITERS:
        rows = _sample_rows(sample, delimiter, truncated)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = all(len(r) == width for r in rows[1:] if any(f.strip() for f in r))
        if (consistent, width) > best_key:
            best, best_key = delimiter, (consistent, width)
    return best


def _sample(text: str) -> tuple[str, bool]:
    """The start of ``text`` cut at a line end, and whether anything was cut."""
    if len(text) <= _SAMPLE_CHARS:
        return text, False
    end = text.rfind("\n", 0, _SAMPLE_CHARS)
    return text[: end + 1 if end > 0 else _SAMPLE_CHARS], True


def _sample_rows(sample: str, delimiter: str, truncated: bool) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    rows: list[list[str]] = []
    with contextlib.suppress(csv.Error):  # judged on the rows before; check_fields words it
        rows.extend(itertools.islice(reader, _SAMPLE_ROWS))
    if truncated and len(rows) > 1 and len(rows) < _SAMPLE_ROWS:
        rows.pop()  # the cut may have split a quoted field
    return rows


def check_fields(text: str, source: str, delimiter: str = ",") -> list[str]:
    """The header's names; a DataError names the first row whose field count differs.

    pandas reads a short row as missing values and, when every row has one field
    more than the header, the first column as an index: both shift data silently.
    """
    reader = csv.reader(_lines(text), delimiter=delimiter)
    try:
        header = next(reader, [])
        for row in reader:
            if len(row) == len(header) or not any(f.strip() for f in row):
                continue  # blank lines are left out later
            fix = (
                f"quote a value that contains a {_DELIMITER_NAMES.get(delimiter, delimiter)}"
                if len(row) > len(header)
                else "write an empty field for a missing value"
            )
            raise DataError(
                f"expected {len(header)} fields as in the header line, found {len(row)}; {fix}",
                where=f"{source}: line {reader.line_num}",
            )
    except csv.Error as e:
        raise DataError(
            f"expected CSV, found unreadable text ({e})", where=f"{source}: line {reader.line_num}"
        ) from None
    return header


def _lines(text: str) -> Iterator[str]:
    """``text``'s lines, each with its "\\n", as a StringIO gives them (which would copy
    the text at four bytes a character)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _read_csv(source: str) -> Table:
    """The rows (indexed by CSV line, as text) and the header's names as written."""
    text = read_text_file(Path(source), source)
    delimiter = sniff_delimiter(text)
    header = check_fields(text, source, delimiter)
    # Bytes, not a StringIO (four bytes a character); read in chunks, so the
    # parser's Python strings of one chunk, not of the whole file, exist at once.
    data = io.BytesIO(text.encode("utf-8"))
    del text
    try:
        with pd.read_csv(
            data,
            sep=delimiter,
            dtype=str,
            skip_blank_lines=False,
            keep_default_na=True,
            chunksize=_CHUNK_ROWS,
        ) as chunks:
            raw = pd.concat(list(chunks))
    except pd.errors.EmptyDataError:
        raise DataError(
            "expected a header line and data rows, found an empty file", source
        ) from None
    except pd.errors.ParserError as e:
        raise DataError(f"expected CSV, found unreadable text ({_one_line(e)})", source) from None
    # Line numbers: the header is line 1. Blank lines are read as all-missing rows
    # (so the numbering stays right) and then left out.
    raw.index = pd.RangeIndex(2, 2 + len(raw), name="line")
    filled = raw.notna().any(axis=1)
    if not filled.all():  # selecting copies every column: only when there are blank lines
        raw = raw[filled]
    if raw.empty:
        raise DataError("expected data rows after the header line, found none", where=source)
    return Table(raw, header, delimiter)


# --------------------------------------------------------------------------- Parquet


def _read_parquet(path: Path, source: str) -> Table:
    """The rows (indexed by row, from 1) with numbers and timestamps kept as typed."""
    _check_file(path, source, "a Parquet file")
    if path.stat().st_size == 0:
        raise DataError("expected a Parquet file, found an empty file", where=source)
    pa, pq = _pyarrow(source)
    try:
        table = pq.ParquetFile(path).read()  # not read_table: it refuses repeated names
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DataError(_not_parquet(path, e), where=source) from None
    # pandas' metadata would turn a saved index into the frame's index (a time
    # column the spec names would vanish): every stored column stays a column.
    keep = [i for i, n in enumerate(table.column_names) if not _is_saved_index(n)]
    table = table.select(keep)  # by position: a name may be repeated
    header = [str(n) for n in table.column_names]
    if table.num_rows == 0:
        raise DataError(
            f"expected data rows, found none (a Parquet file with columns "
            f"{', '.join(header) or 'none'} and no rows)",
            where=source,
        )
    try:
        frame = _to_frame(table)
    except (pa.ArrowException, ValueError, TypeError) as e:
        raise DataError(
            f"expected columns of numbers, text or times ({_one_line(e)})", source
        ) from None
    frame.index = pd.RangeIndex(1, 1 + len(frame), name="row")
    return Table(frame, header, None)


def _pyarrow(source: str) -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, or one DataError saying how to install them.

    pyarrow is an optional dependency: without it a Parquet file is a missing
    package to name, not an ImportError traceback.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            "reading a Parquet file needs the pyarrow package, found it not installed; "
            "install it (pip install pyarrow) or save the data as CSV",
            where=source,
        ) from None
    return pa, pq


def _not_parquet(path: Path, error: Exception) -> str:
    with path.open("rb") as f:
        start = f.read(4)
    if start != b"PAR1":
        return (
            "expected a Parquet file, found other content (no PAR1 marker at its start); "
            "a CSV file should be named .csv"
        )
    return f"expected a Parquet file, found a damaged one ({_one_line(error)})"


def _is_saved_index(name: str) -> bool:
    # pyarrow's name for an unnamed pandas index that is not a plain range
    return name.startswith("__index_level_") and name.endswith("__")


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame: integers (nullable) and floats as numbers, times as datetime64, rest text."""
    import pyarrow as pa

    columns = [_normalize(table.column(i)) for i in range(table.num_columns)]
    table = pa.Table.from_arrays(columns, names=table.column_names)
    frame = table.to_pandas(
        ignore_metadata=True,
        date_as_object=False,
        types_mapper={pa.int64(): pd.Int64Dtype()}.get,  # no float for an integer with nulls
    )
    for i in range(frame.shape[1]):  # by position: a name may be repeated
        col = frame.iloc[:, i]
        if not _typed(col):
            frame.isetitem(i, _as_text(col))
    return frame


def _normalize(column: Any) -> Any:
    """The column cast to a type pandas reads plainly (see :func:`_to_frame`)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_boolean(kind):
        return column.cast(pa.int64())  # true/false read as 1/0
    if pa.types.is_unsigned_integer(kind) and kind.bit_width == 64:
        return column.cast(pa.float64())  # may not fit int64
    if pa.types.is_integer(kind):
        return column.cast(pa.int64())
    if pa.types.is_decimal(kind) or pa.types.is_floating(kind):
        return column.cast(pa.float64())
    return column


def _typed(col: pd.Series) -> bool:
    """Whether the column is numbers, times or strings already (anything else becomes text)."""
    return (
        pd.api.types.is_numeric_dtype(col)
        or pd.api.types.is_datetime64_any_dtype(col)
        or isinstance(col.dtype, pd.StringDtype)
    )


def _as_text(col: pd.Series) -> pd.Series:
    """Values as text (missing ones NaN): the shape CSV values have."""
    out = col.astype(object)
    present = col.notna()
    out[present] = out[present].map(str)
    return out.where(present, float("nan"))


# --------------------------------------------------------------------------- shared


def _check_file(path: Path, source: str, expected: str) -> None:
    if not path.exists():
        raise DataError("data file not found", where=source)
    if path.is_dir():
        raise DataError(f"expected {expected}, found a directory", where=source)


def _one_line(e: Exception) -> str:
    """An exception's message on one line (pandas' and pyarrow's span several)."""
    return " ".join(str(e).split())
