"""Reading a data file into the columns a spec uses, with errors that name the line.

``load_csv(data)`` returns a DataFrame of the target columns followed by the
feature columns (numeric ones as float64, categorical ones as strings) whose
index is the CSV line number of each row (the header is line 1; for a Parquet
file, the row number from 1, and the index is named "row"), and one time
label per row. The file formats (CSV with a sniffed delimiter, Parquet) are
read by :mod:`lstmctl.data.reading`.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from lstmctl.data.reading import Table, check_fields, read_table, read_text_file
from lstmctl.data.values import (
    categories,
    per_value,
    row_at,
    row_unit,
    shared_text,
    to_numeric,
)
from lstmctl.errors import DataError, SpecError

if TYPE_CHECKING:  # annotations only: `predict` reads rows without pydantic
    from lstmctl.spec import DataSpec

# check_fields and read_text_file live in reading; `predict --input` and
# `update --data` import them from here.
__all__ = [
    "LongTable",
    "ONE_SERIES",
    "load_csv",
    "load_long",
    "panel_columns",
    "used_columns",
    "numeric_columns",
    "time_labels",
    "check_fields",
    "read_text_file",
]


def used_columns(data: DataSpec) -> list[str]:
    """Targets then features, in the spec's order."""
    return [*data.target, *data.features]


def numeric_columns(data: DataSpec) -> list[str]:
    """Targets then the non-categorical features."""
    return [*data.target, *(f for f in data.features if f not in data.categorical)]


def load_csv(data: DataSpec) -> tuple[pd.DataFrame, list[str]]:
    """Read ``data.path`` (CSV or Parquet); return the used columns and time labels.

    The columns are indexed by CSV line (or Parquet row).
    """
    if data.path is None:
        raise DataError("expected a CSV file in data.path, found none", where="data.path")
    table, time_cols, frame = _read_values(data, [], used_columns(data))
    raw = table.rows
    return frame, time_labels(
        raw, time_cols, str(data.path), hint=lambda: series_hint(raw, time_cols, data)
    )


@dataclass
class LongTable:
    """A long-format table (``data.series``) as read, rows in the file's order.

    ``frame`` holds the targets, features, known and static columns (numeric
    ones as float64, categorical ones as text), indexed by CSV line (or Parquet
    row); ``ids`` is each row's series id (several series columns joined by
    "/"), ``times`` its time (timestamps, or numbers when the time column holds
    numbers), ``labels`` its time as the file writes it. ``hint`` ends the error
    for a time given twice in a series (:func:`series_hint`: a forgotten
    ``data.series``).
    """

    frame: pd.DataFrame
    ids: np.ndarray
    times: pd.Series
    labels: np.ndarray
    hint: str = ""


# The id of the one series of a table without data.series read as a panel (data.known,
# data.calendar): a constant, so new rows (`update`) and saved models agree on it.
ONE_SERIES = "series"


def panel_columns(data: DataSpec) -> list[str]:
    """The value columns of a panel: targets, features, known, then static."""
    return [*data.target, *data.features, *data.known, *data.static]


def load_long(data: DataSpec) -> LongTable:
    """Read a long table of many series (``data.series``): value columns, ids, times.

    Without ``data.series`` (one series with known or calendar inputs) every row
    is of the one series :data:`ONE_SERIES`.

    Nothing is sorted or checked per series here (:mod:`lstmctl.data.panel` does);
    a missing column is an error with a did-you-mean, as for one series.
    """
    if data.path is None:
        raise DataError("expected data.path: a table to read", where="data.path")
    source = str(data.path)
    series = list(data.series or [])
    table, time_cols, frame = _read_values(data, series, panel_columns(data))
    raw = table.rows
    if not series:  # one series (known or calendar inputs): a panel of one
        times, labels = _long_times(raw, time_cols, source)
        ids = np.full(len(frame), ONE_SERIES, dtype=object)
        return LongTable(frame, ids, times, labels, series_hint(raw, time_cols, data))
    ids = _series_ids(raw, series, source)
    times, labels = _long_times(raw, time_cols, source)
    return LongTable(frame, ids, times, labels)


def series_hint(raw: pd.DataFrame, time_cols: Sequence[str], data: DataSpec) -> str:
    """``; is this a long table of many series? set data.series: COLUMN`` when ``raw``
    gives a time twice and a text column the spec does not use tells every repeat
    apart (its first such column); else an empty string.

    Only worked out for an error: it looks at every unused column.
    """
    cols = list(time_cols)
    if data.series or not cols or not raw.duplicated(subset=cols).any():
        return ""
    used = {*cols, *panel_columns(data)}
    for c in raw.columns:
        values = raw[c]
        if c in used or pd.api.types.is_numeric_dtype(values):
            continue
        if pd.api.types.is_datetime64_any_dtype(values) or values.nunique() < 2:
            continue
        if not raw.duplicated(subset=[c, *cols]).any():
            return f"; is this a long table of many series? set data.series: {c}"
    return ""


def _series_ids(raw: pd.DataFrame, series: Sequence[str], source: str) -> np.ndarray:
    """Each row's series id as text, several series columns joined by "/".

    Each distinct value is made text once and the rows share those strings: a
    table holds many rows of few series, and a string per row would take
    several times the table's own memory.
    """
    codes, names = [], []
    for c in series:
        values = raw[c]
        if pd.api.types.is_float_dtype(values):  # 0.0 and -0.0 are one value, two texts
            values = categories(values)
        code, uniques = pd.factorize(values)
        empty = code < 0
        if empty.any():
            raise DataError(
                "expected a series id in every row, found an empty field",
                where=f"{source}: column {c}, {row_at(raw.index, int(np.argmax(empty)))}",
            )
        codes.append(code)
        names.append(categories(pd.Series(uniques)).astype(str).to_numpy(dtype=object))
    if len(series) == 1:
        return names[0][codes[0]]
    # several id columns: "store/item", joined once for each combination found
    pairs, at = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
    joined = ["/".join(n[k] for n, k in zip(names, row, strict=True)) for row in pairs]
    return np.asarray(joined, dtype=object)[at.reshape(-1)]


def _read_values(
    data: DataSpec, leading: Sequence[str], columns: Sequence[str]
) -> tuple[Table, list[str], pd.DataFrame]:
    """``data.path`` read and checked for the ``leading`` (series), time and value
    ``columns``: the table, the time columns, and the value columns (numeric ones as
    float64, categorical ones as text) indexed by CSV line (or Parquet row)."""
    source = str(data.path)
    _check_names(data)
    table = read_table(source)
    raw = table.rows
    time_cols = _time_columns(data.time)
    _check_columns(raw, [*leading, *time_cols, *columns], source, table.header)
    stray = data.stray_categorical()  # after the columns: a typo is named as one first
    if stray:
        raise SpecError(f"expected columns {stray}", where="data.categorical")
    frame = pd.DataFrame(index=raw.index)
    for col in columns:
        if col in data.categorical:
            frame[col] = categories(raw[col])
        else:
            frame[col] = to_numeric(raw[col], col, source, data.coerce, table)
    return table, time_cols, frame


def _long_times(
    raw: pd.DataFrame, time_cols: Sequence[str], source: str
) -> tuple[pd.Series, np.ndarray]:
    """Each row's time (for ordering within its series) and its label."""
    if len(time_cols) > 1:
        stamps = _assemble(raw[list(time_cols)])
        if stamps is None:
            raise DataError(
                "expected the time columns to combine into timestamps (year, month, day, ...)",
                where=f"{source}: columns {', '.join(time_cols)}",
            )
        return stamps, np.asarray(_format(stamps), dtype=object)
    col = raw[time_cols[0]]
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_numeric_dtype(col):
        missing = col.isna().to_numpy()
        if missing.any():
            raise DataError(
                "expected a time in every row, found an empty field",
                where=f"{source}: column {time_cols[0]}, "
                f"{row_at(raw.index, int(np.argmax(missing)))}",
            )
        if pd.api.types.is_datetime64_any_dtype(col):
            return col, np.asarray(_format(col), dtype=object)
        return col.astype(np.float64), col.astype(str).to_numpy(dtype=object)
    text = per_value(col, lambda v: v.fillna("").astype(str).str.strip())
    stamps = _parse(text, raw.index, time_cols, source)
    if stamps is None:
        numbers = per_value(text, lambda v: pd.to_numeric(v, errors="coerce"))
        if numbers.isna().any():
            i = int(np.argmax(numbers.isna().to_numpy()))
            raise DataError(
                f"expected a date or a number to order each series by, found {text.iloc[i]!r}",
                where=f"{source}: column {time_cols[0]}, {row_at(raw.index, i)}",
            )
        return numbers.astype(np.float64), shared_text(text)
    return stamps, shared_text(text)


def _time_columns(time: str | list[str] | None) -> list[str]:
    if time is None:
        return []
    return [time] if isinstance(time, str) else list(time)


def _check_names(data: DataSpec) -> None:
    keys = [("data.target", data.target), ("data.features", data.features)]
    keys += [("data.known", data.known), ("data.static", data.static)]
    for key, names in keys:
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


# --------------------------------------------------------------------------- time labels


def time_labels(
    raw: pd.DataFrame,
    time_cols: Sequence[str],
    source: str,
    hint: Callable[[], str] = lambda: "",
) -> list[str]:
    """One label per row: the time column's text, a combined timestamp, or the row number.

    Timestamps that parse must increase; text that does not parse as a date
    (shampoo's ``1-01``) is kept as it is. A column of real timestamps (from
    Parquet) is labelled as a combined one is ("2021-01-31", or with the time
    of day when there is one), so both read the same downstream. ``hint()`` ends
    the error for times out of order (called only then).
    """
    if not time_cols:
        return [str(i) for i in range(len(raw))]
    if len(time_cols) > 1:
        stamps = _assemble(raw[list(time_cols)])
        if stamps is not None:
            labels = _format(stamps)
            _check_increasing(stamps, labels, raw.index, time_cols, source, hint)
            return labels
        text = raw[list(time_cols)].fillna("").astype(str).agg(" ".join, axis=1)
    elif pd.api.types.is_datetime64_any_dtype(raw[time_cols[0]]):
        return _stamp_labels(raw[time_cols[0]], time_cols, source, hint)
    else:
        text = raw[time_cols[0]].fillna("").astype(str).str.strip()
    stamps = _parse(text, raw.index, time_cols, source)
    if stamps is not None:
        _check_increasing(stamps, text.tolist(), raw.index, time_cols, source, hint)
    return text.tolist()


def _stamp_labels(
    stamps: pd.Series, time_cols: Sequence[str], source: str, hint: Callable[[], str]
) -> list[str]:
    """Labels of a typed time column: every row has a time, in increasing order."""
    missing = stamps.isna().to_numpy()
    if missing.any():
        at = row_at(stamps.index, int(np.argmax(missing)))
        raise DataError(
            "expected a time in every row, found an empty field",
            where=f"{source}: column {', '.join(time_cols)}, {at}",
        )
    labels = _format(stamps)
    _check_increasing(stamps, labels, stamps.index, time_cols, source, hint)
    return labels


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
        stamps = per_value(text, lambda v: pd.to_datetime(v, format=fmt, errors="coerce"))
    bad = stamps.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        found = repr(text.iloc[i]) if text.iloc[i] else "an empty field"
        raise DataError(
            f"expected a time like the first row's {text.iloc[0]!r} (format {fmt}), found {found}",
            where=f"{source}: column {', '.join(time_cols)}, {row_at(lines, i)}",
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
    hint: Callable[[], str],
) -> None:
    values = stamps.to_numpy()
    if len(values) < 2:
        return
    bad = np.flatnonzero(values[1:] <= values[:-1])
    if bad.size:
        i = int(bad[0]) + 1
        where = f"{source}: column {', '.join(time_cols)}, {row_at(lines, i)}"
        if values[i] == values[i - 1]:
            rows = f"{row_unit(lines)}s {int(lines[i - 1])} and {int(lines[i])}"
            raise DataError(
                f"expected each time once, found {shown[i]!r} on {rows}; "
                f"remove or merge the repeated row{hint()}",
                where=where,
            )
        raise DataError(
            f"expected times in increasing order, found {shown[i]!r} after "
            f"{shown[i - 1]!r}; sort the file by time{hint()}",
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
