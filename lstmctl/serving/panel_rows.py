"""Long-format rows for a saved panel: ``--input`` (new observations) and ``--future``.

A panel model's rows are a long table like the one it was trained on: the
series column(s), the time, the targets and features (``known`` covariates
among them). Static columns may be present: they are checked, not read (the
model reads the series' saved ones; a value that differs is an error). Rows
are grouped by series, in order of first appearance; each group is read
exactly as a single series' ``--input`` is
(:func:`lstmctl.serving.rows.typed_rows`: numbers, each time once and
increasing), so a series' rows need not be contiguous in the file.

``--future FILE`` gives the values of ``known`` covariates at the forecast
steps: rows ``series, time, known...`` (CSV or JSON lines), one per series and
step, in any order (they are looked up by time; each time once per series).
Calendar features need no rows: they are derived from the step times.

Both are read as the training data is: a CSV's delimiter sniffed (commas,
semicolons, tabs, pipes) and, in a CSV not separated by commas, decimal commas
read as points.

A series id the model was not trained on is a DataError naming it and a few
of the known ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lstmctl.data.loading import time_labels
from lstmctl.data.values import decimal_points
from lstmctl.errors import DataError
from lstmctl.serving.rows import check_repeated, numbers, parse_rows, typed_rows

if TYPE_CHECKING:
    from lstmctl.data.panel.state import PanelPipelines

__all__ = ["read_future", "read_panel_rows", "unknown_series"]

# Known ids listed in an error about an unknown one.
SHOWN_IDS = 5


def unknown_series(
    sid: str, known: Sequence[str], where: str, skipped: Mapping[str, str] | None = None
) -> DataError:
    """The error for a series id the model never saw: it, and a few known ids (or why
    training left it out)."""
    shown = ", ".join(repr(k) for k in known[:SHOWN_IDS])
    more = f", ... ({len(known)} in all)" if len(known) > SHOWN_IDS else ""
    why = ""
    if skipped and sid in skipped:
        why = f" (training left it out, data.short_series: skip: {skipped[sid]})"
    return DataError(
        f"expected a series the model was trained on, found {sid!r}{why}; "
        f"known series: {shown}{more}",
        where=where,
    )


def _ids(
    raw: pd.DataFrame, columns: Sequence[str], panel: PanelPipelines, source: str
) -> pd.Series:
    """Each row's series id (several columns joined by "/"), every one a trained series;
    without series columns (one series with known or calendar inputs), the one series."""
    if not columns and len(panel.series) == 1:
        return pd.Series(panel.series[0].id, index=raw.index, dtype=object)
    absent = [c for c in columns if c not in raw.columns]
    if absent:
        raise DataError(
            f"expected the series column {', '.join(columns)} in long-format rows, found no "
            f"{absent[0]} (columns: {', '.join(map(str, raw.columns)) or 'none'})",
            where=f"{source}: column {absent[0]}",
        )
    parts = [raw[c].fillna("").astype(str).str.strip() for c in columns]
    ids = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1).agg("/".join, axis=1)
    for line, sid in ids.items():
        if not sid:
            raise DataError(
                "expected a series id in every row, found an empty field",
                where=f"{source}: column {columns[0]}, line {line}",
            )
        if sid not in panel.by_id:
            where = f"{source}: column {columns[0]}, line {line}"
            raise unknown_series(sid, [s.id for s in panel.series], where, panel.skipped)
    return ids


def read_panel_rows(
    text: str, panel: PanelPipelines, time: Sequence[str], source: str = "--input"
) -> dict[str, pd.DataFrame]:
    """New rows by series id (in order of first appearance), each as ``read_rows`` gives
    a single series' rows."""
    raw, decimal_comma = parse_rows(text, source)
    ids = _ids(raw, panel.series_columns, panel, source)
    out: dict[str, pd.DataFrame] = {}
    for sid in pd.unique(ids.to_numpy()):
        group = raw[(ids == sid).to_numpy()]
        s = panel.by_id[str(sid)]
        _check_static(group, s.id, s.static, source, decimal_comma)
        out[str(sid)] = typed_rows(group, s.pipeline, source, time, decimal_comma, series=s.id)
    return out


def _check_static(
    group: pd.DataFrame, sid: str, saved: dict[str, object], source: str, decimal_comma: bool
) -> None:
    """Static columns, where the rows have them, hold the series' saved values (the saved
    ones are what the model reads: a different value means rows of another series)."""
    for col, value in saved.items():
        if col not in group.columns or value is None:
            continue
        text = group[col].fillna("").astype(str).str.strip()
        if isinstance(value, str):
            same = (text == value).to_numpy()
        else:
            num = pd.to_numeric(
                decimal_points(text, decimal_comma).astype(object), errors="coerce"
            ).to_numpy(dtype=np.float64, na_value=np.nan)
            same = np.isclose(num, float(str(value)))
        same = same | (text == "").to_numpy()
        if not same.all():
            line = group.index[int(np.argmax(~same))]
            raise DataError(
                f"expected the static value series {sid!r} was trained with, {value!r}, found "
                f"{group[col].loc[line]!r}",
                where=f"{source}: column {col}, line {line}",
            )


def read_future(
    text: str, panel: PanelPipelines, time: Sequence[str], source: str = "--future"
) -> dict[str, pd.DataFrame]:
    """Rows of ``known`` covariates for the forecast steps, by series id: a frame of the
    known columns (float64) indexed by time label, with each row's ``__line__``.

    The labels are the time column's text (several time columns: the time they
    make); the predictor checks them against the training data's format."""
    raw, decimal_comma = parse_rows(text, source)
    ids = _ids(raw, panel.series_columns, panel, source)
    wanted = [*time, *panel.known]
    absent = [c for c in wanted if c not in raw.columns]
    if absent:
        raise DataError(
            f"expected the columns {', '.join([*panel.series_columns, *wanted])} in the rows of "
            f"future known values, found no {absent[0]} "
            f"(columns: {', '.join(map(str, raw.columns)) or 'none'})",
            where=f"{source}: column {absent[0]}",
        )
    out: dict[str, pd.DataFrame] = {}
    for sid in pd.unique(ids.to_numpy()):
        group = raw[(ids == sid).to_numpy()]
        frame = pd.DataFrame({c: numbers(group[c], c, source, decimal_comma) for c in panel.known})
        frame["__line__"] = group.index.to_numpy()
        try:
            check_repeated(group, list(time), source)
            labels = (
                group[time[0]].fillna("").astype(str).str.strip().tolist()
                if len(time) == 1
                else time_labels(group, list(time), source)
            )
        except DataError as e:
            raise DataError(f"series {str(sid)!r}: {e.message}", e.where) from None
        frame.index = pd.Index(labels)
        out[str(sid)] = frame
    return out


def future_known(
    future: dict[str, pd.DataFrame] | None,
    sid: str,
    labels: Sequence[str],
    known: Sequence[str],
    header: Sequence[str],
    note: str = "",
) -> np.ndarray:
    """The ``known`` values of series ``sid`` at the step times ``labels`` (rows, known);
    a DataError naming the missing column and steps when ``--future`` lacks them
    (``header``: the columns its rows need; ``note``: why these steps)."""
    frame = None if future is None else future.get(sid)
    values = np.full((len(labels), len(known)), np.nan)
    if frame is not None:
        found = frame.reindex(list(labels))
        values = found[list(known)].to_numpy(dtype=np.float64)
        empty = np.isnan(values) & found["__line__"].notna().to_numpy()[:, None]
        if empty.any():  # the row is there, its value is not
            i, j = (int(v) for v in np.argwhere(empty)[0])
            raise DataError(
                f"expected a value of the known covariate {known[j]!r} of series {sid!r} for "
                f"the forecast step {i + 1} ({labels[i]}){note}, found an empty field",
                where=f"--future: column {known[j]}, line {int(found['__line__'].iloc[i])}",
            )
    missing = np.isnan(values)
    if not missing.any():
        return values
    j = int(np.argmax(missing.any(axis=0)))
    steps = [i for i in range(len(labels)) if missing[i, j]]
    shown = ", ".join(f"{i + 1} ({labels[i]})" for i in steps[:4])
    more = f" and {len(steps) - 4} more" if len(steps) > 4 else ""
    given = "no --future rows" if future is None else "none in --future"
    raise DataError(
        f"expected the known covariate {known[j]!r} of series {sid!r} for the forecast "
        f"steps {shown}{more}{note}, found {given}; give them as rows "
        f"{', '.join(header)} with --future FILE",
        where=f"--future: column {known[j]}",
    )
