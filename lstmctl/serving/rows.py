"""New rows for a saved model (``--input``): read, and checked as training data is, and then some.

Each check fails with a one-line ``DataError`` naming ``--input``, the column
and the line:

* at least one row; numbers finite and within float32 range;
* values the fitted scaling maps within ``MAX_MODEL_VALUE`` (a million
  training ranges, or standard deviations, from the training data: the
  network's inputs stay where it was trained, so a value beyond that is a
  unit or typing error, not a forecastable observation);
* times, when the rows have the time column: each once, in order, after the
  saved series' end (unless ``--no-history``) and, when the training data had
  a regular frequency, one period apart with no gap. A gap is refused rather
  than filled: give a row for each missing period with empty values, and the
  model's ``data.missing`` strategy handles them as it did in training.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from lstmctl.data.loading import check_fields, time_labels
from lstmctl.data.pipeline import Pipeline
from lstmctl.data.reading import sniff_delimiter
from lstmctl.data.values import decimal_points
from lstmctl.errors import DataError, undecodable

# The most a new value may be from the training data in the network's units
# (scaled: about 1 for the training rows themselves).
MAX_MODEL_VALUE = 1e6
FLOAT32_MAX = float(np.finfo(np.float32).max)


def read_input(path: str | Path, option: str = "--input") -> str:
    """The text of an ``--input`` (or ``--future``) file: UTF-8 (a byte-order mark is
    allowed). A pipe (``<(cat rows.csv)``, a FIFO) is read once, as a file is."""
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", where=f"{p}: {option}")
    if p.is_dir():
        raise DataError("expected a file, found a directory", where=f"{p}: {option}")
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        line, found = undecodable(e)
        raise DataError(
            f"expected UTF-8 text, {found}; save the file as UTF-8", where=f"{p}: line {line}"
        ) from None
    except OSError as e:
        raise DataError(
            f"expected a readable file, found {e.strerror or e}", where=f"{p}: {option}"
        ) from None


def read_rows(
    text: str, pre: Pipeline, source: str = "--input", time: Sequence[str] = ()
) -> pd.DataFrame:
    """New rows from CSV text (or JSON lines / a JSON array of objects) with the training columns.

    The frame has the targets and features (numeric as float64, categorical
    as text), a ``__label__`` column (the time label, or "" without one) and a
    ``__line__`` column (each row's CSV line, or JSON row, for errors). ``time``
    names the training data's time columns.
    """
    raw, decimal_comma = parse_rows(text, source)
    return typed_rows(raw, pre, source, time, decimal_comma)


class Parsed(NamedTuple):
    """``parse_rows``' rows, every value as text, and whether a comma there may be a
    decimal mark (a CSV not separated by commas, as training data is read)."""

    rows: pd.DataFrame
    decimal_comma: bool


def parse_rows(text: str, source: str = "--input") -> Parsed:
    """Rows of CSV text (or JSON lines / a JSON array of objects), every value as text,
    indexed by CSV line (or JSON row); at least one row.

    A CSV's delimiter is sniffed as the training data's is (commas, semicolons,
    tabs or pipes; :func:`lstmctl.data.reading.sniff_delimiter`)."""
    sep = ","
    stripped = text.lstrip()
    if not stripped:
        raise DataError("expected rows (CSV with a header, or JSON lines), found nothing", source)
    if stripped[0] in "[{":
        raw = _json_rows(stripped, source)
        if not len(raw):
            raise DataError("expected at least one row, found an empty JSON array", source)
    else:
        sep = sniff_delimiter(text)
        check_fields(text, source, sep)  # a ragged row would shift values into other columns
        try:
            raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, skip_blank_lines=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            msg = " ".join(str(e).split())
            raise DataError(
                f"expected CSV with a header line, found unreadable text ({msg})", source
            ) from None
        if not len(raw):
            raise DataError(
                "expected at least one row after the header line, found a header only", source
            )
        raw.index = pd.RangeIndex(2, 2 + len(raw))  # CSV line numbers (the header is line 1)
    raw.columns = [str(c).strip() for c in raw.columns]
    return Parsed(raw, sep != ",")


def typed_rows(
    raw: pd.DataFrame,
    pre: Pipeline,
    source: str = "--input",
    time: Sequence[str] = (),
    decimal_comma: bool = False,
    series: str | None = None,
) -> pd.DataFrame:
    """``parse_rows``' rows as ``read_rows`` gives them: the training columns typed, the
    time labels checked (each once, increasing), ``__label__`` and ``__line__``.

    ``series``: the panel series the rows are of, named in the time errors."""
    time = list(time)
    wanted = [*pre.targets, *pre.features]
    absent = [c for c in wanted if c not in raw.columns]
    if absent:
        raise DataError(
            f"expected the training columns {', '.join(wanted)}, found no {', '.join(absent)} "
            f"(columns: {', '.join(map(str, raw.columns)) or 'none'})",
            where=f"{source}: column {absent[0]}",
        )
    frame = pd.DataFrame(index=raw.index)
    for col in wanted:
        if col in pre.categorical:
            frame[col] = raw[col].astype(object).where(raw[col].notna(), np.nan)
        else:
            frame[col] = numbers(raw[col], col, source, decimal_comma)
    times = [c for c in time if c in raw.columns]
    if times and len(times) < len(time):
        absent = [c for c in time if c not in times]
        raise DataError(
            f"expected the time columns {', '.join(time)} together, found no {', '.join(absent)}",
            where=f"{source}: column {absent[0]}",
        )
    # As training reads them: each time once, in increasing order (when they are times).
    try:
        check_repeated(raw, times, source)
        frame["__label__"] = time_labels(raw, times, source) if times else ""
    except DataError as e:
        if series is None:
            raise
        raise DataError(f"series {series!r}: {e.message}", e.where) from None
    frame["__line__"] = raw.index.to_numpy()
    return frame.reset_index(drop=True)


def _json_rows(text: str, source: str) -> pd.DataFrame:
    try:
        if text[0] == "[":
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise DataError(f"expected JSON objects, found unreadable JSON ({e})", source) from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError("expected one JSON object per row", source)
    # pandas reads objects without keys as no rows: keep one row each.
    frame = pd.DataFrame.from_records(records, index=pd.RangeIndex(len(records)))
    frame.index = pd.RangeIndex(1, 1 + len(frame))  # JSON lines are numbered from 1
    return (
        frame.astype(object).where(frame.notna(), None).map(lambda v: None if v is None else str(v))
    )


def check_repeated(raw: pd.DataFrame, times: Sequence[str], source: str) -> None:
    """Each time once: a DataError naming both lines of the first repeated one, wherever
    it is (a repeat after later times is a repeat, not a row out of order)."""
    if not times or not len(raw):
        return
    parts = [raw[c].fillna("").astype(str).str.strip() for c in times]
    text = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1).agg(" ".join, axis=1)
    again = (text.duplicated() & (text != "")).to_numpy()
    if not again.any():
        return
    i = int(np.argmax(again))
    label = text.iloc[i]
    first = text.index[int(np.argmax((text == label).to_numpy()))]
    raise DataError(
        f"expected each time once, found {label!r} on lines {first} and {text.index[i]}; "
        "remove or merge the repeated row",
        where=f"{source}: column {', '.join(times)}, line {text.index[i]}",
    )


def numbers(values: pd.Series, col: str, source: str, decimal_comma: bool = False) -> pd.Series:
    """A column of text as float64; DataError naming the line of a value that is no
    number or beyond float32. ``decimal_comma``: "1,5" may be 1.5, as in training data
    (:func:`lstmctl.data.values.decimal_points`)."""
    if decimal_comma:
        text = decimal_points(values.where(values.notna(), ""), True).astype(str)
    else:
        text = values.astype(str).str.strip()
    out = pd.to_numeric(text, errors="coerce").astype(np.float64)
    out[values.isna().to_numpy()] = np.nan
    bad = out.isna() & values.notna() & (text != "")
    if bad.any():
        line = bad.index[int(np.argmax(bad.to_numpy()))]
        raise DataError(
            f"expected a number, found {values.loc[line]!r}",
            where=f"{source}: column {col}, line {line}",
        )
    # The network computes in float32: a larger value would become inf there.
    arr = out.to_numpy()
    with np.errstate(invalid="ignore"):
        huge = np.abs(arr) > FLOAT32_MAX
    if huge.any():
        i = int(np.argmax(huge))
        line = out.index[i]
        found = values.loc[line]
        message = (
            f"expected a finite number, found {found!r}"
            if np.isinf(arr[i]) and not any(ch.isdigit() for ch in str(found))
            else f"expected a number within float32 range (±{FLOAT32_MAX:.4g}), found {found!r}"
        )
        raise DataError(message, where=f"{source}: column {col}, line {line}")
    return out


def tail_frame(tail: dict[str, Any], pre: Pipeline) -> pd.DataFrame:
    """The saved last observations (``preprocess.json``'s ``tail``) as rows like ``read_rows``'."""
    cols = tail["columns"]
    frame = pd.DataFrame(index=pd.RangeIndex(len(tail["labels"])))
    for col in [*pre.targets, *pre.features]:
        values = cols[col]
        if col in pre.categorical:
            frame[col] = pd.Series([np.nan if v is None else str(v) for v in values], dtype=object)
        else:
            frame[col] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    frame["__label__"] = [str(v) for v in tail["labels"]]
    frame["__line__"] = 0  # saved rows have no line in --input
    return frame


def _times(labels: Sequence[str], fmt: str) -> np.ndarray:
    """``labels`` read with ``fmt`` as datetime64 (NaT where one does not match)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stamps = pd.to_datetime(pd.Series(list(labels), dtype=object), format=fmt, errors="coerce")
    return np.asarray(stamps.to_numpy(dtype="datetime64[ns]"))


def check_times(
    rows: pd.DataFrame,
    history: bool,
    tail_labels: list[str],
    time_columns: list[str],
    time_info: dict[str, Any],
    missing: str,
    source: str = "--input",
) -> None:
    """New rows continue the series: after its saved end, each period once, no gap.

    ``read_rows`` has checked that the times increase; this checks them against
    the saved series and, when the training data had one, its frequency.
    """
    labels = [str(v) for v in rows["__label__"]]
    if not any(labels):
        return  # no time column: the rows are taken in the order given
    lines = [int(v) for v in rows["__line__"]]
    where = f"{source}: column {', '.join(time_columns) or 'time'}"
    end = tail_labels[-1] if history and tail_labels else ""
    freq, fmt = time_info.get("freq"), time_info.get("format")
    if not (freq and fmt):
        check_after_end(labels, lines, end, where)
        return
    stamps = check_time_format(labels, lines, fmt, tail_labels[-1], where)
    last = _times([end], fmt)[0] if end else None
    try:
        if last is not None:
            grid = pd.date_range(last, periods=len(labels) + 1, freq=freq)[1:]
        else:
            grid = pd.date_range(stamps[0], periods=len(labels), freq=freq)
    except (ValueError, OverflowError):  # past the last time pandas can hold
        return
    off = np.flatnonzero(stamps != grid.to_numpy())
    if not off.size:
        return
    i = int(off[0])
    at = f"{where}, line {lines[i]}"
    expected = str(grid[i].strftime(fmt))
    prev = labels[i - 1] if i else end
    if i == 0 and last is not None and stamps[0] <= last:
        raise DataError(
            f"expected rows that continue the saved series after {end!r} (from {expected!r}), "
            f"found {labels[0]!r}; use --no-history for rows that carry their own history",
            where=at,
        )
    if i and stamps[i] == stamps[i - 1]:
        raise DataError(
            f"expected each time once, found {labels[i]!r} on lines {lines[i - 1]} "
            f"and {lines[i]}; remove or merge the repeated row",
            where=at,
        )
    if i and stamps[i] < stamps[i - 1]:
        raise DataError(
            f"expected times in increasing order, found {labels[i]!r} after {prev!r}; "
            "sort the rows by time",
            where=at,
        )
    gap = (
        "; the periods between are missing: give a row for each (empty values are "
        f"handled as in training, by data.missing: {missing})"
        if stamps[i] > grid[i]
        else ""
    )
    raise DataError(
        f"expected {expected!r}, one period ({freq}) after {prev!r}, found {labels[i]!r}" + gap,
        where=at,
    )


def check_time_format(
    labels: Sequence[str], lines: Sequence[int], fmt: str, example: str, where: str
) -> np.ndarray:
    """The labels as times in the training data's format ``fmt``; a DataError naming the
    line of the first that is not (``example``: a training time, shown)."""
    stamps = _times(labels, fmt)
    bad = np.flatnonzero(pd.isna(stamps))
    if bad.size:
        i = int(bad[0])
        found = repr(labels[i]) if labels[i] else "an empty field"
        raise DataError(
            f"expected a time like the training data's {example!r} (format {fmt}), found {found}",
            where=f"{where}, line {lines[i]}",
        )
    return stamps


def check_after_end(labels: list[str], lines: list[int], end: str, where: str) -> None:
    """Without a known frequency: the first new time comes after the saved end."""
    if not end:
        return
    from pandas.tseries.api import guess_datetime_format

    fmt_new, fmt_end = guess_datetime_format(labels[0]), guess_datetime_format(end)
    if fmt_new is None or fmt_end is None:
        return  # labels that are not times (shampoo's "1-01"): nothing to compare
    first, last = _times(labels[:1], fmt_new)[0], _times([end], fmt_end)[0]
    if not pd.isna(first) and not pd.isna(last) and first <= last:
        raise DataError(
            f"expected rows that continue the saved series after {end!r}, "
            f"found {labels[0]!r}; use --no-history for rows that carry their own history",
            where=f"{where}, line {lines[0]}",
        )


def check_values(frame: pd.DataFrame, inputs: np.ndarray, first_new: int, pre: Pipeline) -> None:
    """New values the network can use: within ``MAX_MODEL_VALUE`` of its training inputs.

    A value the fitted scaling maps far outside the training inputs (a typing
    slip, other units) saturates the network: its forecast would mean nothing.
    Unscaled models take any value that float32 holds after the transforms.
    """
    nums = pre.numeric  # the first columns of the inputs, in this order
    limits = np.array(
        [
            MAX_MODEL_VALUE if scaler.kind != "none" else FLOAT32_MAX
            for scaler in (
                *(pre.target_scaler_ for _ in pre.targets),
                *(pre.feature_scaler_ for _ in nums[len(pre.targets) :]),
            )
        ]
    )
    part = inputs[first_new:, : len(nums)]
    with np.errstate(invalid="ignore"):
        bad = np.abs(part) > limits
    if pre.mask_value is not None:
        bad &= part != pre.mask_value  # a missing value, masked
    if not bad.any():
        return
    r, c = (int(v) for v in np.argwhere(bad)[0])
    row, col = first_new + r, nums[c]
    if col in pre.targets and pre.lags:
        # A difference is out of range because of one of the rows it spans.
        lo = max(row - pre.lags, 0)
        span = np.abs(frame[col].to_numpy(dtype=np.float64)[lo : row + 1])
        row = lo + int(np.nanargmax(span))
    value = float(frame[col].iloc[row])
    line = int(frame["__line__"].iloc[row])
    raise DataError(
        f"expected a value the model's fitted scaling maps within ±{limits[c]:g}, "
        f"found {value:g} (it maps to {part[r, c]:.3g}); is it in the training data's units?",
        where=f"--input: column {col}, line {line}",
    )
