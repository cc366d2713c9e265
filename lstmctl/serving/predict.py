"""Predicting with a saved model: numpy, pandas and onnxruntime, no TensorFlow.

``predict(model_dir, rows=None, horizon=None)`` applies the fitted preprocessing
pipeline training used (:class:`lstmctl.data.pipeline.Pipeline`: missing
values, transforms, scalers, one-hot categories), restored from its state in
``preprocess.json`` with ``Pipeline.from_state``, runs the network
— ``model.onnx`` through onnxruntime when present, else (or with
``engine="keras"``) ``model.keras`` through Keras — and inverts scaling and
differencing back to the data's units.

Two questions a saved model answers:

* **new rows** (``rows``): the rows continue the series the model was trained
  on (the saved last observations come first, so differencing and the
  look-back window reach back into them). Every new row is a forecast origin:
  one forecast of the model's horizon per row, each made from the actual
  observations up to that row (walk-forward, as evaluation scores it).
* **K steps ahead** (``horizon=K``): from the last observation (the saved
  ones, or the end of ``rows``), forecasts are fed back as inputs until K
  steps are made (recursive multi-step forecasting).

A stateful model starts from the LSTM states saved after its training data
(they are explicit model inputs and outputs) and carries them from window to
window.

New rows are checked as training data is, and then some (each a one-line
``DataError`` naming ``--input``, the column and the line):

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

``horizon`` is at most ``MAX_HORIZON`` steps. Each step costs the same (the
last window and the LSTM states are carried forward), so the time grows
linearly with ``horizon``.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.loading import check_fields, time_labels
from lstmctl.data.pipeline import Pipeline
from lstmctl.errors import DataError, ModelDirError, UsageError, undecodable
from lstmctl.modeldir.format import ModelDir, first_line, open_model_dir

ENGINES = ("auto", "onnx", "keras")
# Recursive forecasts feed forecasts back as inputs: far beyond the data's own
# length they say little, and the rows must fit in memory and on a screen.
MAX_HORIZON = 10_000
# The most a new value may be from the training data in the network's units
# (scaled: about 1 for the training rows themselves).
MAX_MODEL_VALUE = 1e6
FLOAT32_MAX = float(np.finfo(np.float32).max)


# --------------------------------------------------------------------------- engines


class Engine:
    """One network call: a batch of windows (and states) in, forecasts (and states) out."""

    name = "engine"
    n_states = 0
    state_sizes: list[int]

    def __call__(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list]:
        raise NotImplementedError


class OnnxEngine(Engine):
    """``model.onnx`` through onnxruntime (imports in about 0.1 s)."""

    name = "onnx"

    def __init__(self, model_bytes: bytes) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # Small networks: threads cost more to start than they save.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        # Loaded from a file alone in a private folder: onnxruntime reads a graph's
        # external-data files relative to the model's folder (the working directory
        # for bytes), so a graph from elsewhere can name no file but its own.
        with tempfile.TemporaryDirectory(prefix="lstmctl-onnx-") as tmp:
            path = Path(tmp) / "model.onnx"
            path.write_bytes(model_bytes)
            self.session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.n_states = len(self.inputs) - 1
        self.state_sizes = [int(i.shape[-1]) for i in self.session.get_inputs()[1:]]

    def __call__(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list]:
        feed = {self.inputs[0]: x.astype(np.float32, copy=False)}
        for name, s in zip(self.inputs[1:], states, strict=True):
            feed[name] = s.astype(np.float32, copy=False)
        out = self.session.run(None, feed)
        return np.asarray(out[0]), [np.asarray(s) for s in out[1:]]


class KerasEngine(Engine):
    """``model.keras`` through Keras (safe mode), on the backend Keras runs here."""

    name = "keras"

    def __init__(self, model_dir: ModelDir) -> None:
        from lstmctl.training.backend import use_backend

        backend = str(model_dir.manifest.get("trained", {}).get("spec_backend", "auto"))
        # If Keras already runs on another backend here, that is fine: a saved
        # model loads on any backend.
        with contextlib.suppress(Exception):
            use_backend(backend if backend in ("auto", "tensorflow") else "auto")
        self.model = model_dir.load_keras()
        self.n_states = len(self.model.inputs) - 1
        self.state_sizes = [int(t.shape[-1]) for t in self.model.inputs[1:]]

    def __call__(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list]:
        import keras

        inputs = [x.astype(np.float32), *(s.astype(np.float32) for s in states)]
        out = self.model(inputs, training=False)
        if self.n_states:
            arrays = [np.asarray(keras.ops.convert_to_numpy(o)) for o in out]
            return arrays[0], arrays[1:]
        return np.asarray(keras.ops.convert_to_numpy(out)), []


def make_engine(model_dir: ModelDir, engine: str = "auto") -> Engine:
    """``auto``: ONNX when the directory has it, else Keras."""
    if engine not in ENGINES:
        raise UsageError(f"expected one of {', '.join(ENGINES)}, found {engine!r}", "--engine")
    if engine == "onnx" and not model_dir.has("model.onnx"):
        reason = model_dir.manifest.get("onnx", {}).get("skipped") or "not exported"
        raise ModelDirError(
            f"expected model.onnx for --engine onnx, found none ({reason}); use --engine keras",
            where=str(model_dir.path),
        )
    if engine in ("auto", "onnx") and model_dir.has("model.onnx"):
        try:
            return OnnxEngine(model_dir.read_bytes("model.onnx"))
        except ImportError:
            if engine == "onnx":
                raise UsageError(
                    "onnxruntime is not installed (pip install onnxruntime)", "--engine"
                ) from None
        except Exception as e:  # onnxruntime's own kinds: a graph it cannot load
            raise ModelDirError(
                f"expected an ONNX graph onnxruntime can load, found one it refuses "
                f"({type(e).__name__}: {first_line(e)})",
                where=str(model_dir.path / "model.onnx"),
            ) from None
    return KerasEngine(model_dir)


# --------------------------------------------------------------------------- reading rows


def read_rows(
    text: str, pre: Pipeline, source: str = "--input", time: Sequence[str] = ()
) -> pd.DataFrame:
    """New rows from CSV text (or JSON lines / a JSON array of objects) with the training columns.

    The frame has the targets and features (numeric as float64, categorical
    as text), a ``__label__`` column (the time label, or "" without one) and a
    ``__line__`` column (each row's CSV line, or JSON row, for errors). ``time``
    names the training data's time columns.
    """
    time = list(time)
    stripped = text.lstrip()
    if not stripped:
        raise DataError("expected rows (CSV with a header, or JSON lines), found nothing", source)
    if stripped[0] in "[{":
        raw = _json_rows(stripped, source)
        if not len(raw):
            raise DataError("expected at least one row, found an empty JSON array", source)
    else:
        check_fields(text, source)  # a ragged row would shift values into other columns
        try:
            raw = pd.read_csv(io.StringIO(text), dtype=str, skip_blank_lines=True)
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
            frame[col] = _numbers(raw[col], col, source)
    times = [c for c in time if c in raw.columns]
    if times and len(times) < len(time):
        absent = [c for c in time if c not in times]
        raise DataError(
            f"expected the time columns {', '.join(time)} together, found no {', '.join(absent)}",
            where=f"{source}: column {absent[0]}",
        )
    # As training reads them: each time once, in increasing order (when they are times).
    frame["__label__"] = time_labels(raw, times, source) if times else ""
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


def _numbers(values: pd.Series, col: str, source: str) -> pd.Series:
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


# --------------------------------------------------------------------------- forecasting


@dataclass
class Forecast:
    """Rows of forecasts: one per (origin, step), in the data's units."""

    time_name: str
    targets: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    engine: str = ""

    def columns(self) -> list[str]:
        return ["origin", "step", self.time_name, *self.targets]

    def csv(self) -> str:
        buf = io.StringIO()
        pd.DataFrame(self.rows, columns=self.columns()).to_csv(
            buf, index=False, lineterminator="\n"
        )
        return buf.getvalue()

    def json(self) -> str:
        return json.dumps(self.rows, indent=2, allow_nan=False)


class Predictor:
    """A verified model directory ready to forecast."""

    def __init__(self, model_dir: ModelDir, engine: str = "auto") -> None:
        self.dir = model_dir
        kind = model_dir.manifest.get("kind", "forecast")
        if kind != "forecast":
            raise ModelDirError(
                f"expected a forecasting model, found a {kind} model "
                "(use `lstmctl generate` for generative models)",
                where=str(model_dir.path),
            )
        state = model_dir.preprocess
        where = str(model_dir.path / "preprocess.json")
        try:
            self.pre = Pipeline.from_state(state, source="--input")
            self.time_columns = [str(c) for c in state["time"]["columns"]]
        except (KeyError, TypeError, ValueError, AttributeError, DataError) as e:
            raise ModelDirError(
                f"expected the fitted preprocessing lstmctl writes, found a damaged entry ({e})",
                where=where,
            ) from None
        try:
            self.tail = _tail_frame(state["tail"], self.pre)
            self.tail_labels = [str(v) for v in state["tail"]["labels"]]
            self.saved_states = [np.asarray(s, dtype=np.float32) for s in state.get("states") or []]
            self.time_info = dict(state["time"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelDirError(
                f"expected the saved last observations, found ({e})", where
            ) from None
        self.engine = make_engine(model_dir, engine)
        if self.engine.n_states != len(self.saved_states):
            raise ModelDirError(
                f"the network takes {self.engine.n_states} state inputs but "
                f"{len(self.saved_states)} saved states were found",
                where=where,
            )

    # ------------------------------------------------------------------ public

    def predict(
        self, rows: pd.DataFrame | None = None, horizon: int | None = None, history: bool = True
    ) -> Forecast:
        """Forecasts at every new row, or ``horizon`` steps ahead from the last observation."""
        pre = self.pre
        if horizon is not None and not 1 <= horizon <= MAX_HORIZON:
            raise UsageError(
                f"expected a horizon of 1 to {MAX_HORIZON} steps, found {horizon}",
                where="--horizon",
            )
        if rows is None and not history:
            raise UsageError("--no-history needs rows to predict from (--input)", "--no-history")
        new = rows if rows is not None else self._empty_rows()
        if "__line__" not in new.columns:  # rows not from read_rows: number them from 1
            new = new.assign(__line__=np.arange(1, len(new) + 1))
        if rows is not None:
            self._check_times(new, history)
        context = self.tail if history else self._empty_rows()
        frame = pd.concat([context, new], ignore_index=True)
        frame = pre.clean(frame, "--input")  # `drop` may drop rows: labels travel with it
        first_new = int((frame.index < len(context)).sum())
        frame = frame.reset_index(drop=True)
        if rows is not None and len(new) and len(frame) == first_new:
            raise DataError("expected rows with every used column present, found none", "--input")
        if len(frame) < pre.context:
            raise DataError(
                f"expected at least {pre.context} rows (look-back {pre.lookback}"
                + (f" + differencing lag {pre.lags}" if pre.lags else "")
                + f"), found {len(frame)}",
                where="--input",
            )
        pre.name_rows("--input", frame["__line__"].to_numpy())
        t = pre.transform(frame)
        inputs, stages = t.inputs, t.stages
        self._check_values(frame, inputs, first_new)
        fc = Forecast(self._time_name(), list(pre.targets), engine=self.engine.name)
        states = [s.copy() for s in self.saved_states] if history else self._zero_states()
        if rows is not None and horizon is None:
            self._walk_forward(frame, inputs, stages, first_new, states, history, fc)
        else:
            k = horizon or pre.horizon
            self._recursive(frame, inputs, stages, k, states, history, first_new, fc)
        for row in fc.rows:
            bad = [t for t in pre.targets if not np.isfinite(row[t])]
            if bad:
                raise DataError(
                    f"expected finite forecasts, found {row[bad[0]]} for {bad[0]} at step "
                    f"{row['step']} from {row['origin']!r}; the inputs are too far from the "
                    "training data for this model",
                    where="--input" if rows is not None else str(self.dir.path),
                )
        return fc

    # ------------------------------------------------------------------ checks

    def _check_times(self, rows: pd.DataFrame, history: bool) -> None:
        """New rows continue the series: after its saved end, each period once, no gap.

        ``read_rows`` has checked that the times increase; this checks them against
        the saved series and, when the training data had one, its frequency.
        """
        labels = [str(v) for v in rows["__label__"]]
        if not any(labels):
            return  # no time column: the rows are taken in the order given
        lines = [int(v) for v in rows["__line__"]]
        where = f"--input: column {', '.join(self.time_columns) or 'time'}"
        end = self.tail_labels[-1] if history and self.tail_labels else ""
        freq, fmt = self.time_info.get("freq"), self.time_info.get("format")
        if not (freq and fmt):
            self._check_after_end(labels, lines, end, where)
            return
        stamps = _times(labels, fmt)
        bad = np.flatnonzero(pd.isna(stamps))
        if bad.size:
            i = int(bad[0])
            found = repr(labels[i]) if labels[i] else "an empty field"
            raise DataError(
                f"expected a time like the training data's {self.tail_labels[-1]!r} "
                f"(format {fmt}), found {found}",
                where=f"{where}, line {lines[i]}",
            )
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
            f"handled as in training, by data.missing: {self.pre.missing})"
            if stamps[i] > grid[i]
            else ""
        )
        raise DataError(
            f"expected {expected!r}, one period ({freq}) after {prev!r}, found {labels[i]!r}" + gap,
            where=at,
        )

    def _check_after_end(self, labels: list[str], lines: list[int], end: str, where: str) -> None:
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

    def _check_values(self, frame: pd.DataFrame, inputs: np.ndarray, first_new: int) -> None:
        """New values the network can use: within ``MAX_MODEL_VALUE`` of its training inputs.

        A value the fitted scaling maps far outside the training inputs (a typing
        slip, other units) saturates the network: its forecast would mean nothing.
        Unscaled models take any value that float32 holds after the transforms.
        """
        pre = self.pre
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

    def _check_fed_back(self, take: np.ndarray, done: int, k: int) -> None:
        """Forecasts (steps ``done + 1`` on) that are finite and, when fed back, valid inputs."""
        bad = ~np.isfinite(take).all(axis=1)
        why = "not finite"
        if not bad.any() and done + len(take) < k and any(t.kind == "log" for t in self.pre.chain_):
            bad, why = (take <= 0).any(axis=1), "<= 0, which the log transform refuses"
        if not bad.any():
            return
        i = int(np.argmax(bad))
        step, found = done + i + 1, ", ".join(f"{v:g}" for v in take[i])
        if step == 1:
            raise DataError(
                f"expected a finite forecast, found {found} at step 1; the last observations "
                "are too far from the training data for this model",
                where="--input",
            )
        raise UsageError(
            f"expected forecasts that can be fed back as inputs, found {found} at step {step} "
            f"({why}): fed back, the forecasts diverge; use --horizon {step - 1} or less",
            where="--horizon",
        )

    # ------------------------------------------------------------------ walk-forward

    def _walk_forward(
        self,
        frame: pd.DataFrame,
        inputs: np.ndarray,
        stages: list[np.ndarray],
        first_new: int,
        states: list[np.ndarray],
        history: bool,
        fc: Forecast,
    ) -> None:
        pre = self.pre
        first_origin = pre.context - 1
        wanted = np.arange(max(first_new, first_origin), len(frame))
        if self.engine.n_states:
            # The saved states follow the training windows up to the row before the
            # last saved one: feed every window from the last saved row on.
            start = (first_new - 1) if history else first_origin
            feed = np.arange(max(start, first_origin), len(frame))
            preds, _ = self._stream(inputs, feed, states)
            keep = np.isin(feed, wanted)
            pred, origins = preds[keep], feed[keep]
        else:
            origins = wanted
            pred = self._batch(inputs, origins)
        ok = self._complete(inputs, origins)
        pred, origins = pred[ok], origins[ok]
        values = pre.inverse_transform(pred, origins, stages)
        labels = list(frame["__label__"])
        for i, o in enumerate(origins):
            for h in range(values.shape[1]):
                fc.rows.append(self._row(labels, int(o), h + 1, values[i, h]))

    # ------------------------------------------------------------------ recursive

    def _recursive(
        self,
        frame: pd.DataFrame,
        inputs: np.ndarray,
        stages: list[np.ndarray],
        k: int,
        states: list[np.ndarray],
        history: bool,
        first_new: int,
        fc: Forecast,
    ) -> None:
        pre = self.pre
        extra = [f for f in pre.features]
        if k > pre.horizon and extra:
            raise UsageError(
                f"forecasting {k} steps with a model of horizon {pre.horizon} feeds forecasts "
                f"back as inputs, but the inputs include features ({', '.join(extra)}) whose "
                "future values are unknown; use --horizon "
                f"{pre.horizon} or less, or give the future rows with --input",
                where="--horizon",
            )
        labels = list(frame["__label__"])
        last = len(frame) - 1
        if self.engine.n_states:
            # Bring the states up to the last row (the saved ones stop one row before
            # the saved last window; new rows move them on).
            start = (first_new - 1) if history else pre.context - 1
            feed = np.arange(max(start, pre.context - 1), last)
            if len(feed):
                _, states = self._stream(inputs, feed, states)
        # Each step needs only the last context + horizon rows (its window, what
        # differencing reaches back to, the forecasts fed back): the series is
        # carried as those rows, so every step costs the same.
        keep = pre.context + pre.horizon
        series = frame[pre.targets].to_numpy(dtype=np.float64)[-keep:]
        made: list[np.ndarray] = []
        while True:
            origin = np.array([len(inputs) - 1])
            if self.engine.n_states:
                pred, states = self._stream(inputs, origin, states)
            else:
                pred = self._batch(inputs, origin)
            if not self._complete(inputs, origin).all():
                raise DataError(
                    "expected the last window to be complete, found missing values in it",
                    where="--input",
                )
            values = pre.inverse_transform(pred, origin, stages)[0]  # (horizon, n_targets)
            take = values[: k - len(made)]
            self._check_fed_back(take, len(made), k)
            made.extend(take)
            if len(made) >= k:
                break
            # Fed back: the forecasts become the next observations (no features
            # here, so the targets are the inputs). The states then move through
            # the windows ending at all but the last of them.
            series = np.concatenate([series, take])[-keep:]
            t = pre.transform_targets(series)
            inputs, stages = t.inputs, t.stages
            if self.engine.n_states and len(take) > 1:
                feed = np.arange(len(series) - len(take), len(series) - 1)
                _, states = self._stream(inputs, feed, states)
        time_name = self._time_name()
        for h, (v, label) in enumerate(zip(made, self._step_labels(labels, last, k), strict=True)):
            fc.rows.append(
                {
                    "origin": labels[-1],
                    "step": h + 1,
                    time_name: label,
                    **{t: float(v[j]) for j, t in enumerate(pre.targets)},
                }
            )

    # ------------------------------------------------------------------ helpers

    def _windows(self, inputs: np.ndarray, origins: np.ndarray) -> np.ndarray:
        lb = self.pre.lookback
        idx = origins[:, None] + np.arange(-lb + 1, 1)[None, :]
        return np.asarray(inputs[idx], dtype=np.float32)

    def _complete(self, inputs: np.ndarray, origins: np.ndarray) -> np.ndarray:
        if len(origins) == 0:
            return np.zeros(0, dtype=bool)
        return ~np.isnan(self._windows(inputs, origins)).any(axis=(1, 2))

    def _batch(self, inputs: np.ndarray, origins: np.ndarray) -> np.ndarray:
        if len(origins) == 0:
            return np.zeros((0, self.pre.horizon, len(self.pre.targets)), np.float32)
        x = np.nan_to_num(self._windows(inputs, origins))
        return self.engine(x, [])[0]

    def _stream(
        self, inputs: np.ndarray, origins: np.ndarray, states: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed windows one at a time, carrying the states; forecasts for each."""
        out = []
        for o in origins:
            x = np.nan_to_num(self._windows(inputs, np.array([o])))
            pred, states = self.engine(x, states)
            out.append(pred[0])
        shape = (0, self.pre.horizon, len(self.pre.targets))
        return (np.stack(out) if out else np.zeros(shape, np.float32)), states

    def _zero_states(self) -> list[np.ndarray]:
        return [np.zeros((1, n), np.float32) for n in self.engine.state_sizes]

    def _empty_rows(self) -> pd.DataFrame:
        return self.tail.iloc[:0]

    def _time_name(self) -> str:
        cols = self.time_columns
        return cols[0] if len(cols) == 1 else "time"

    def _row(self, labels: list[str], origin: int, step: int, values: np.ndarray) -> dict:
        return {
            "origin": labels[origin],
            "step": step,
            self._time_name(): self._step_label(labels, origin, step),
            **{t: float(values[j]) for j, t in enumerate(self.pre.targets)},
        }

    def _step_label(self, labels: list[str], origin: int, step: int) -> str:
        """The time of ``origin + step``: its row's label, else counted on by the frequency."""
        at = origin + step
        if at < len(labels) and labels[at]:
            return labels[at]
        return next_label(labels[origin], step, self.time_info)

    def _step_labels(self, labels: list[str], origin: int, steps: int) -> list[str]:
        """``_step_label`` for steps 1 to ``steps`` at once (one date range, not one each)."""
        if origin + 1 < len(labels):  # not from the last row: row by row
            return [self._step_label(labels, origin, h) for h in range(1, steps + 1)]
        return step_labels(labels[origin], steps, self.time_info)


def step_labels(label: str, steps: int, time_info: dict[str, Any]) -> list[str]:
    """``next_label(label, h, time_info)`` for h = 1 .. ``steps`` ("" where unknown)."""
    freq, fmt = time_info.get("freq"), time_info.get("format")
    if not (freq and fmt and label):
        return [""] * steps
    try:
        stamp = pd.Timestamp(pd.to_datetime(label, format=fmt))
    except (ValueError, TypeError):
        return [""] * steps

    def periods(n: int) -> pd.DatetimeIndex | None:
        try:
            return pd.date_range(stamp, periods=n + 1, freq=freq)
        except (ValueError, TypeError, OverflowError):
            return None

    moved = periods(steps)
    if moved is None:  # past the last time pandas holds (2262): the longest range that fits
        lo, hi = 0, steps - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (lo, mid - 1) if periods(mid) is None else (mid, hi)
        moved = periods(lo)
        if moved is None:
            return [""] * steps
    return [str(v) for v in moved[1:].strftime(fmt)] + [""] * (steps + 1 - len(moved))


def next_label(label: str, steps: int, time_info: dict[str, Any]) -> str:
    """``label`` moved on by ``steps`` periods of the training data's frequency ("" if unknown)."""
    freq, fmt = time_info.get("freq"), time_info.get("format")
    if not (freq and fmt and label):
        return ""
    try:
        stamp = pd.Timestamp(pd.to_datetime(label, format=fmt))
        moved = pd.date_range(stamp, periods=steps + 1, freq=freq)[-1]
    except (ValueError, TypeError):
        return ""
    return str(moved.strftime(fmt))


def _tail_frame(tail: dict[str, Any], pre: Pipeline) -> pd.DataFrame:
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


def read_input(path: str | Path) -> str:
    """The text of an ``--input`` file: UTF-8 (a byte-order mark is allowed)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(
            "input file not found" if not p.exists() else "expected a file, found a directory",
            where=str(p),
        )
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        line, found = undecodable(e)
        raise DataError(
            f"expected UTF-8 text, {found}; save the file as UTF-8", where=f"{p}: line {line}"
        ) from None


def predict(
    model: str | Any,
    text: str | None = None,
    horizon: int | None = None,
    engine: str = "auto",
    history: bool = True,
) -> Forecast:
    """Load ``model`` (a model directory), read ``text`` (CSV or JSON rows) and forecast."""
    model_dir = model if isinstance(model, ModelDir) else open_model_dir(model)
    predictor = Predictor(model_dir, engine)
    rows = read_rows(text, predictor.pre, time=predictor.time_columns) if text is not None else None
    return predictor.predict(rows, horizon=horizon, history=history)
