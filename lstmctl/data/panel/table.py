"""A long table cut into its series: each one's rows in time order, checked.

``split_series(table, data)`` groups the rows of a :class:`LongTable` by series
id (in order of first appearance), sorts each group by time and checks what
only a per-series view can see: a time given twice within one series, and a
``data.static`` column whose value changes within one. Errors name the series,
the column and the lines. The series a derived spec leaves out
(``data.left_out``, see :func:`lstmctl.spec.derive.leaving_out`) are dropped here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lstmctl.data.loading import LongTable
from lstmctl.errors import DataError

if TYPE_CHECKING:
    from lstmctl.spec import DataSpec

__all__ = ["SeriesRows", "split_series"]


@dataclass
class SeriesRows:
    """One series' rows, in time order (index: the file's lines)."""

    id: str
    frame: pd.DataFrame
    times: pd.Series
    labels: list[str]


def split_series(table: LongTable, data: DataSpec) -> list[SeriesRows]:
    """Every series of ``table``, rows sorted by time; DataError for a repeated time or a
    static column that varies within a series."""
    source = str(data.path)
    time_col = data.time if isinstance(data.time, str) else ", ".join(data.time or [])
    # Group by series (in order of first appearance) and sort each by time in one
    # stable sort: the file's order of equal times is kept (the duplicate check names them).
    codes, uniques = pd.factorize(table.ids)
    order = np.lexsort((table.times.to_numpy(), codes))
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    out = []
    for k, sid in enumerate(uniques):
        if str(sid) in data.left_out:  # a derived spec's (finalize's): never prepared
            continue
        rows = order[bounds[k] : bounds[k + 1]]
        series = SeriesRows(
            id=str(sid),
            frame=table.frame.iloc[rows],
            times=table.times.iloc[rows],
            labels=[str(v) for v in table.labels[rows]],
        )
        _check_times(series, source, time_col, table.hint)
        _check_static(series, data.static, source)
        out.append(series)
    return out


def _check_times(series: SeriesRows, source: str, time_col: str, hint: str) -> None:
    values = series.times.to_numpy()
    same = np.flatnonzero(values[1:] == values[:-1])
    if same.size:
        i = int(same[0]) + 1
        lines = series.frame.index
        unit = "row" if lines.name == "row" else "line"
        a, b = sorted((int(lines[i - 1]), int(lines[i])))
        raise DataError(
            f"expected each time once per series, found {series.labels[i]!r} twice in "
            f"series {series.id!r} ({unit}s {a} and {b}); remove or merge the repeated row{hint}",
            where=f"{source}: column {time_col}",
        )


def _check_static(series: SeriesRows, static: list[str], source: str) -> None:
    lines = series.frame.index
    unit = "row" if lines.name == "row" else "line"
    for col in static:
        values = series.frame[col]
        first = values.iloc[0]
        differs = ~((values == first) | (values.isna() & pd.isna(first))).to_numpy()
        if differs.any():
            i = int(np.argmax(differs))
            raise DataError(
                f"expected a static column to be constant within each series, found "
                f"{first!r} and {values.iloc[i]!r} in series {series.id!r} "
                f"({unit}s {int(lines[0])} and {int(lines[i])})",
                where=f"{source}: column {col}",
            )
