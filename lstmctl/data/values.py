"""A table's text made values: numbers, categories and labels, with errors that name the row.

Shared by :mod:`lstmctl.data.loading` (a spec's data file) and what reads new
rows. Columns of a long table repeat few distinct values in many rows (series
ids, time labels), so conversions that make a Python object per value run once
per distinct value (:func:`per_value`, :func:`shared_text`), and numbers are
parsed in slices (:func:`numbers`): a large table then costs a small multiple
of its own memory, not several times it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from lstmctl.data.reading import Table
from lstmctl.errors import DataError

__all__ = [
    "NUMBER_ROWS",
    "categories",
    "decimal_points",
    "numbers",
    "per_value",
    "row_at",
    "row_unit",
    "shared_text",
    "to_numeric",
]

# Rows of text made numbers at a time (see :func:`_numbers`).
NUMBER_ROWS = 10_000


def row_unit(lines: pd.Index) -> str:
    """How errors name a row: by its CSV line, or by its Parquet row (see reading.Table)."""
    return "row" if lines.name == "row" else "line"


def row_at(lines: pd.Index, i: int) -> str:
    """Where the i-th row is: "line 7" in a CSV, "row 6" in a Parquet file."""
    return f"{row_unit(lines)} {int(lines[i])}"


def categories(values: pd.Series) -> pd.Series:
    """Categories as text, as a CSV gives them (a Parquet integer 3 is "3"), missing as NaN."""
    out = values.astype(object)
    present = values.notna()
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        out[present] = out[present].map(str)
    return out.where(present, np.nan)


def to_numeric(values: pd.Series, col: str, source: str, coerce: bool, table: Table) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):  # Parquet numbers are numbers already
        out = pd.Series(values.to_numpy(dtype=np.float64, na_value=np.nan), index=values.index)
    else:
        out = numbers(decimal_points(values, table.decimal_comma))
    bad = (out.isna() & values.notna()).to_numpy()
    if bad.any() and not coerce:
        i = int(np.argmax(bad))
        raise DataError(
            f"expected a number, found {values.iloc[i]!r} "
            "(set data.coerce: true to read such values as missing)",
            where=f"{source}: column {col}, {row_at(values.index, i)}",
        )
    inf = np.isinf(out.to_numpy())
    if inf.any():
        i = int(np.argmax(inf))
        raise DataError(
            f"expected a finite number, found {values.iloc[i]!r}",
            where=f"{source}: column {col}, {row_at(values.index, i)}",
        )
    return out


def numbers(text: pd.Series) -> pd.Series:
    """``pd.to_numeric(text, errors="coerce")`` as float64, read ``NUMBER_ROWS`` rows at
    a time: it makes a Python string of every value it reads, several times the
    text's own memory for a whole column.

    Each value parses alone, so the slices give the whole column's numbers when
    every slice reads as the same kind: all floats, or all integers. Otherwise
    (integers in some slices only, integers past int64, where the whole column
    reads differently) the column is read whole.
    """
    step = NUMBER_ROWS
    parts = [
        pd.to_numeric(text.iloc[i : i + step], errors="coerce") for i in range(0, len(text), step)
    ]
    kinds = {str(part.dtype) for part in parts}
    if kinds in ({"float64"}, {"int64"}):
        out = pd.concat(parts).astype(np.float64)
        if not (np.abs(out.to_numpy()) >= 2.0**63).any():
            return out
    return pd.to_numeric(text, errors="coerce").astype(np.float64)


def decimal_points(values: pd.Series, decimal_comma: bool) -> pd.Series:
    """The values' text, stripped, with decimal commas made points where the file uses
    them (``decimal_comma``, see :class:`~lstmctl.data.reading.Table`); numbers (a
    Parquet column) as they are.

    A CSV separated by semicolons, tabs or pipes often comes from a locale
    that writes 1,5 for 1.5. A column there whose values hold commas and no
    point is read that way; a column that mixes "1.5" and "1,5", or writes
    thousands as "1.234,5", is left as it is and its first such value is
    the error (guessing would silently scale numbers by a thousand).
    """
    if pd.api.types.is_numeric_dtype(values):
        return values
    text = values.astype("string").str.strip() if values.dtype == object else values.str.strip()
    if not decimal_comma:
        return text
    if text.str.contains(",", regex=False).any() and not text.str.contains(".", regex=False).any():
        return text.str.replace(",", ".", regex=False)
    return text


def per_value(values: pd.Series, convert: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``convert(values)``, computed once for each distinct value: a time repeats in
    every series, and pandas makes a Python string of each value it parses."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    out = convert(pd.Series(uniques))
    return pd.Series(out.array.take(codes), index=values.index, name=values.name)


def shared_text(values: pd.Series) -> np.ndarray:
    """``values.to_numpy(dtype=object)``, each distinct string made once (see
    :func:`_series_ids`): a time label repeats in every series."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(uniques, dtype=object)[codes]
