"""Reading a CSV into the columns a spec uses, with errors that name the line.

``load_csv(data)`` returns a DataFrame of the target columns followed by the
feature columns (numeric ones as float64, categorical ones as strings) whose
index is the CSV line number of each row (the header is line 1), and one time
label per row.
"""

from __future__ import annotations

import csv
import difflib
import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from lstmctl.errors import DataError, undecodable

if TYPE_CHECKING:  # annotations only: `predict` reads rows without pydantic
    from lstmctl.spec import DataSpec

__all__ = ["load_csv", "used_columns", "numeric_columns"]


def used_columns(data: DataSpec) -> list[str]:
    """Targets then features, in the spec's order."""
    return [*data.target, *data.features]


def numeric_columns(data: DataSpec) -> list[str]:
    """Targets then the non-categorical features."""
    return [*data.target, *(f for f in data.features if f not in data.categorical)]


def load_csv(data: DataSpec) -> tuple[pd.DataFrame, list[str]]:
    """Read ``data.path``; return the used columns (indexed by CSV line) and time labels."""
    if data.path is None:
        raise DataError("expected a CSV file in data.path, found none", where="data.path")
    source = str(data.path)
    _check_names(data)
    raw, header = _read(source)
    time_cols = _time_columns(data.time)
    _check_columns(raw, [*time_cols, *used_columns(data)], source, header)

    frame = pd.DataFrame(index=raw.index)
    for col in used_columns(data):
        if col in data.categorical:
            frame[col] = raw[col].astype(object).where(raw[col].notna(), np.nan)
        else:
            frame[col] = _to_numeric(raw[col], col, source, data.coerce)
    labels = time_labels(raw, time_cols, source)
    frame.index.name = "line"
    return frame, labels


# --------------------------------------------------------------------------- reading


def read_text_file(path: Path, source: str) -> str:
    """A data file's text (UTF-8, a byte-order mark dropped), or one DataError naming it."""
    if not path.exists():
        raise DataError("data file not found", where=source)
    if path.is_dir():
        raise DataError("expected a CSV file, found a directory", where=source)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        line, found = undecodable(e)
        raise DataError(
            f"expected UTF-8 text, {found} on line {line} ({e.reason}); save the file as UTF-8",
            where=source,
        ) from None


def _read(source: str) -> tuple[pd.DataFrame, list[str]]:
    """The rows (indexed by CSV line) and the header's names as written."""
    text = read_text_file(Path(source), source)
    header = check_fields(text, source)
    try:
        raw = pd.read_csv(
            io.StringIO(text), dtype=str, skip_blank_lines=False, keep_default_na=True
        )
    except pd.errors.EmptyDataError:
        raise DataError(
            "expected a header line and data rows, found an empty file", source
        ) from None
    except pd.errors.ParserError as e:
        raise DataError(f"expected CSV, found unreadable text ({_one_line(e)})", source) from None
    # Line numbers: the header is line 1. Blank lines are read as all-missing rows
    # (so the numbering stays right) and then left out.
    raw.index = pd.RangeIndex(2, 2 + len(raw))
    raw = raw[raw.notna().any(axis=1)]
    if raw.empty:
        raise DataError("expected data rows after the header line, found none", where=source)
    return raw, header


def check_fields(text: str, source: str) -> list[str]:
    """The header's names; a DataError names the first row whose field count differs.

    pandas reads a short row as missing values and, when every row has one field
    more than the header, the first column as an index: both shift data silently.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, [])
        for row in reader:
            if len(row) == len(header) or not any(f.strip() for f in row):
                continue  # blank lines are left out later
            fix = (
                "quote a value that contains a comma"
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


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _time_columns(time: str | list[str] | None) -> list[str]:
    if time is None:
        return []
    return [time] if isinstance(time, str) else list(time)


def _check_names(data: DataSpec) -> None:
    for key, names in (("data.target", data.target), ("data.features", data.features)):
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise DataError(f"expected each column once, found {dup} repeated", where=key)
    both = [c for c in data.features if c in data.target]
    if both:
        raise DataError(
            f"targets are already inputs; expected features other than the target, found {both}",
            where="data.features",
        )


def _check_columns(
    raw: pd.DataFrame, wanted: Sequence[str], source: str, header: Sequence[str] = ()
) -> None:
    available = [str(c) for c in raw.columns]
    for col in wanted:
        at = [i + 1 for i, name in enumerate(header) if name == col]
        if len(at) > 1:  # pandas would rename the second one col.1 and read the first
            raise DataError(
                f"expected one column named {col!r}, found {len(at)} (columns "
                f"{', '.join(map(str, at))} of the header); rename or remove the others",
                where=f"{source}: column {col}",
            )
        if col in raw.columns:
            continue
        near = difflib.get_close_matches(col, available, n=1, cutoff=0.6)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise DataError(
            f"expected a column named {col!r}, found none; {hint}"
            f"available columns: {', '.join(available)}",
            where=f"{source}: column {col}",
        )


def _to_numeric(values: pd.Series, col: str, source: str, coerce: bool) -> pd.Series:
    out = pd.to_numeric(values.str.strip(), errors="coerce").astype(np.float64)
    bad = out.isna() & values.notna()
    if bad.any() and not coerce:
        line = int(bad.index[int(np.argmax(bad.to_numpy()))])
        raise DataError(
            f"expected a number, found {values.loc[line]!r} "
            "(set data.coerce: true to read such values as missing)",
            where=f"{source}: column {col}, line {line}",
        )
    inf = np.isinf(out.to_numpy())
    if inf.any():
        line = int(out.index[int(np.argmax(inf))])
        raise DataError(
            f"expected a finite number, found {values.loc[line]!r}",
            where=f"{source}: column {col}, line {line}",
        )
    return out


# --------------------------------------------------------------------------- time labels


def time_labels(raw: pd.DataFrame, time_cols: Sequence[str], source: str) -> list[str]:
    """One label per row: the time column's text, a combined timestamp, or the row number.

    Timestamps that parse must increase; text that does not parse as a date
    (shampoo's ``1-01``) is kept as it is.
    """
    if not time_cols:
        return [str(i) for i in range(len(raw))]
    if len(time_cols) > 1:
        stamps = _assemble(raw[list(time_cols)])
        if stamps is not None:
            labels = _format(stamps)
            _check_increasing(stamps, labels, raw.index, time_cols, source)
            return labels
        text = raw[list(time_cols)].fillna("").astype(str).agg(" ".join, axis=1)
    else:
        text = raw[time_cols[0]].fillna("").astype(str).str.strip()
    stamps = _parse(text, raw.index, time_cols, source)
    if stamps is not None:
        _check_increasing(stamps, text.tolist(), raw.index, time_cols, source)
    return text.tolist()


def _parse(
    text: pd.Series, lines: pd.Index, time_cols: Sequence[str], source: str
) -> pd.Series | None:
    """Times, when the first row reads as one (then every row must); None keeps labels."""
    if len(text) == 0:
        return None
    fmt = guess_datetime_format(str(text.iloc[0]))
    if fmt is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stamps = pd.to_datetime(text, format=fmt, errors="coerce")
    bad = stamps.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        found = repr(text.iloc[i]) if text.iloc[i] else "an empty field"
        raise DataError(
            f"expected a time like the first row's {text.iloc[0]!r} (format {fmt}), found {found}",
            where=f"{source}: column {', '.join(time_cols)}, line {int(lines[i])}",
        )
    return stamps


def _assemble(parts: pd.DataFrame) -> pd.Series | None:
    # pd.to_datetime assembles a frame with columns named year, month, day, hour, ...
    numbers = pd.DataFrame({c: pd.to_numeric(parts[c], errors="coerce") for c in parts.columns})
    if numbers.isna().any().any():
        return None
    numbers.columns = [str(c).strip().lower() for c in numbers.columns]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stamps = pd.to_datetime(numbers, errors="coerce")
    except (ValueError, TypeError):
        return None
    return None if stamps.isna().any() else stamps


def _check_increasing(
    stamps: pd.Series,
    shown: Sequence[str],
    lines: pd.Index,
    time_cols: Sequence[str],
    source: str,
) -> None:
    values = stamps.to_numpy()
    if len(values) < 2:
        return
    bad = np.flatnonzero(values[1:] <= values[:-1])
    if bad.size:
        i = int(bad[0]) + 1
        where = f"{source}: column {', '.join(time_cols)}, line {int(lines[i])}"
        if values[i] == values[i - 1]:
            raise DataError(
                f"expected each time once, found {shown[i]!r} on lines {int(lines[i - 1])} "
                f"and {int(lines[i])}; remove or merge the repeated row",
                where=where,
            )
        raise DataError(
            f"expected times in increasing order, found {shown[i]!r} after "
            f"{shown[i - 1]!r}; sort the file by time",
            where=where,
        )


def _format(stamps: pd.Series) -> list[str]:
    if (stamps == stamps.dt.normalize()).all():
        fmt = "%Y-%m-%d"
    elif (stamps.dt.second == 0).all() and (stamps.dt.microsecond == 0).all():
        fmt = "%Y-%m-%d %H:%M"
    else:
        fmt = "%Y-%m-%d %H:%M:%S"
    return stamps.dt.strftime(fmt).tolist()
