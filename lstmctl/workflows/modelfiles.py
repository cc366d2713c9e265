"""What finalize and update share: the saved-model record, the files of a model directory.

``save_model`` writes a forecasting model directory (spec, preprocessing, the
rows trained on, the Keras model and, when it exports, the ONNX graph; for an
ensemble, the other members, their states and the intervals' calibration);
``write_model`` and ``reported_stop`` turn a full disk or a signal into an
error that says what is left at the target.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.values import decimal_points
from lstmctl.errors import Interrupted, RunError
from lstmctl.modeldir.format import open_model_dir
from lstmctl.modeldir.members import INTERVALS, MEMBERS, member_file, members_doc
from lstmctl.modeldir.onnx import ExportFailed, export_onnx, export_onnx_many
from lstmctl.modeldir.writing import save_keras, write_model_dir
from lstmctl.spec import Spec
from lstmctl.training.network import replay_states

log = logging.getLogger("lstmctl")


@dataclass
class SavedModel:
    """What ``finalize`` and ``update`` report."""

    path: Path
    manifest: dict[str, Any]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        m = self.manifest
        out = {
            "model": str(self.path),
            "name": m.get("name"),
            "arch": m.get("arch"),
            "trained": m.get("trained"),
            "onnx": m.get("onnx"),
            "lineage": m.get("lineage"),
            "files": sorted(m.get("files", {})),
            "seconds": round(self.seconds, 3),
        }
        # Only an ensemble says so: a one-model directory reports as it always did.
        for key in ("members", "intervals"):
            if key in m:
                out[key] = m[key]
        return out


@dataclass
class Ensemble:
    """What an ensemble's directory keeps beyond member 1 (``save_model``'s ``model``)."""

    models: list[Any]  # members 2 .. N, as Keras models
    seeds: list[int]  # every member's seed, member 1 first
    states: list[Any]  # every member's LSTM states after the training rows (None: stateless)
    calibration: dict[str, Any] | None  # intervals.json (None: no intervals)


def one_fit(fits: list[Any]) -> Any:
    """The one repeat fitted, or the error it failed with."""
    return every_fit(fits[:1])[0]


def every_fit(fits: list[Any]) -> list[Any]:
    """Every repeat fitted (an ensemble's members), or the error the first failed one gave."""
    for i, fit in enumerate(fits):
        if fit.error is not None or not fit.weights:
            which = "" if len(fits) == 1 else f" of member {i + 1} (seed {fit.seed})"
            raise RunError(f"training{which} failed: {fit.error or 'no weights'}", where="train")
    return fits


def last_value(values: list[float] | None) -> float | None:
    return float(values[-1]) if values else None


def clean_frame(spec: Spec) -> tuple[pd.DataFrame, list[str]]:
    """The used columns after missing-value handling, with their time labels (as prepare)."""
    from lstmctl.data.loading import load_csv
    from lstmctl.data.pipeline import Pipeline

    frame, labels = load_csv(spec.data)
    lab = pd.Series(labels, index=frame.index)
    frame = Pipeline.from_spec(spec.data, str(spec.data.path)).clean(frame, record=True)
    return frame.reset_index(drop=True), [str(v) for v in lab.loc[frame.index]]


def raw_rows(spec: Spec) -> str:
    """The used and time columns of the data file (what `update` appends to), as comma CSV.

    The file is read as training reads it (:func:`lstmctl.data.reading.read_table`:
    the delimiter sniffed, or Parquet), so a model trained from a semicolon CSV or a
    Parquet file saves the same rows; numbers written with decimal commas are saved
    with points (the saved file is comma-separated).
    """
    from lstmctl.data.reading import read_table

    table = read_table(str(spec.data.path))
    raw = with_points(table.rows[file_columns(spec)].copy(), spec, table.decimal_comma)
    return str(raw.to_csv(index=False, lineterminator="\n"))


def with_points(raw: pd.DataFrame, spec: Spec, decimal_comma: bool) -> pd.DataFrame:
    """``raw``'s number columns with decimal points (see
    :func:`lstmctl.data.values.decimal_points`)."""
    if not decimal_comma:
        return raw
    text = set(spec.data.categorical) | set(spec.data.series or []) | set(time_columns(spec))
    for col in raw.columns:
        if col not in text:
            raw[col] = decimal_points(raw[col], decimal_comma)
    return raw


def time_columns(spec: Spec) -> list[str]:
    t = spec.data.time
    return [] if t is None else [t] if isinstance(t, str) else list(t)


def file_columns(spec: Spec) -> list[str]:
    """The columns a model directory's ``data.csv`` keeps: for a panel, the series and
    its known and static columns too."""
    d = spec.data
    cols = [*(d.series or []), *time_columns(spec), *d.target, *d.features]
    if d.is_panel:
        cols += [*d.known, *d.static]
    return list(dict.fromkeys(cols))


def time_info(spec: Spec, labels: list[str]) -> dict[str, Any]:
    """The time columns and, when the labels are dates of a regular frequency, that frequency."""
    from pandas.tseries.api import guess_datetime_format

    t = spec.data.time
    cols = [] if t is None else [t] if isinstance(t, str) else list(t)
    info: dict[str, Any] = {"columns": cols, "freq": None, "format": None}
    recent = [s for s in labels[-24:] if s]
    if len(recent) < 3:
        return info
    fmt = guess_datetime_format(recent[-1])
    if fmt is None:
        return info
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(pd.Series(recent), format=fmt))
        freq = pd.infer_freq(stamps)
    except (ValueError, TypeError):
        return info
    if freq:
        info.update(freq=freq, format=fmt)
    return info


def json_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    return v if isinstance(v, str) else float(v)


def replayed_states(model: Any, pre: Any, inputs: np.ndarray, rows: int) -> list[list[list[float]]]:
    """A stateful model's states after the training rows (``pre``: the saved pipeline).

    Every window up to the one ending a row before the last is replayed: the
    saved last window (ending at the last row) is then the first one a forecast feeds.
    """
    lb = pre.lookback
    origins = np.arange(pre.context - 1, rows - 1)
    idx = origins[:, None] + np.arange(-lb + 1, 1)[None, :]
    X = np.asarray(inputs[idx], dtype=np.float32)
    X = X[~np.isnan(X).any(axis=(1, 2))]
    return [s.tolist() for s in replay_states(model, X)]


def member_networks(
    spec: Spec, data: Any, pre: Any, inputs: np.ndarray | None, rows: int, weights: list[Any]
) -> tuple[list[Any], list[Any]]:
    """Each member's saved network (states as explicit inputs) with its ``weights``, and
    its states after the ``rows`` rows (None: stateless); ``pre``: the saved pipeline,
    ``inputs`` the rows it transformed (None for a panel, which is never stateful)."""
    from lstmctl.models.registry import build_model
    from lstmctl.training.keras_fit import shapes_for

    models: list[Any] = []
    states: list[Any] = []
    for w in weights:
        model = build_model(spec.model, shapes_for(spec, data, state_mode="explicit"))
        model.set_weights(w)
        models.append(model)
        if len(model.inputs) > 1 and inputs is not None:  # stateful
            states.append(replayed_states(model, pre, inputs, rows))
        else:
            states.append(None)
    return models, states


def save_model(
    spec: Spec,
    out: Path,
    model: Any,
    pre_state: dict[str, Any],
    raw_csv: str,
    trained: dict[str, Any],
    lineage: dict[str, Any] | None,
    force: bool,
    onnx: bool,
    ensemble: Ensemble | None = None,
) -> dict[str, Any]:
    """Write the model directory; ``ensemble``: the other members (see modeldir.members)."""
    manifest: dict[str, Any] = {
        "kind": "forecast",
        "name": spec.name,
        "arch": spec.model.arch,
        "stateful": spec.model.stateful,
        "inputs": [{"name": t.name, "shape": list(t.shape)} for t in model.inputs],
        "outputs": [{"shape": list(t.shape)} for t in model.outputs],
        "trained": trained,
        "lineage": lineage,
    }
    n = 1 + (len(ensemble.models) if ensemble else 0)

    def onnx_file(path: Path) -> None:
        # Every member's graph at once (TensorFlow starts once): the member-NN.onnx
        # writers below only let write_model_dir find and hash what this one wrote.
        if not onnx:
            manifest["onnx"] = {"skipped": "--no-onnx"}
            return
        folder = path.parent
        pairs = [
            (folder / member_file(i, "keras"), folder / member_file(i, "onnx")) for i in range(n)
        ]
        try:
            results = [export_onnx(*pairs[0])] if n == 1 else export_onnx_many(pairs)
            manifest["onnx"] = results[0]
            if n > 1:
                worst = max(float(r.get("max_abs_diff", 0.0)) for r in results)
                manifest["onnx"] = {**results[0], "max_abs_diff": worst, "members": n}
        except ExportFailed as e:
            which = "model.onnx" if n == 1 else f"model.onnx and the other {n - 1} members' graphs"
            log.warning("%s not written: %s (predict will use Keras)", which, e)
            manifest["onnx"] = {"skipped": str(e)}
            for _, onnx_path in pairs:
                onnx_path.unlink(missing_ok=True)

    # The spec as the user wrote it (finalize only drops its test part, as
    # manifest.trained.split says): `update --scheme refit` trains it again.
    writers: dict[str, Any] = {
        "spec.yaml": lambda p: p.write_text(spec.to_yaml(), encoding="utf-8"),
        "preprocess.json": _json_writer(pre_state),
        "data.csv": lambda p: p.write_text(raw_csv, encoding="utf-8"),
        "model.keras": lambda p: save_keras(model, p),
    }
    if ensemble is not None:
        for i, member in enumerate(ensemble.models, start=1):
            writers[member_file(i, "keras")] = lambda p, m=member: save_keras(m, p)
        writers[MEMBERS] = _json_writer(members_doc(ensemble.seeds, ensemble.states))
        manifest["members"] = {"count": n, "seeds": ensemble.seeds}
        if ensemble.calibration is not None:
            writers[INTERVALS] = _json_writer(ensemble.calibration)
            manifest["intervals"] = ensemble.calibration["summary"]
    writers["model.onnx"] = onnx_file
    for i in range(1, n):
        writers[member_file(i, "onnx")] = lambda p: None  # written by onnx_file
    write_model(out, writers, manifest, force)
    return open_model_dir(out).manifest


def _json_writer(doc: Any) -> Any:
    """A writer of ``doc`` as JSON (no NaN: a reader in another language gets valid JSON)."""

    def write(path: Path) -> None:
        path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")

    return write


def _manifest_digest(target: Path) -> str | None:
    try:
        return hashlib.sha256((target / "manifest.json").read_bytes()).hexdigest()
    except OSError:
        return None


def _what_was_left(target: Path, before: str | None) -> str:
    """What a failed or interrupted save left at ``target``: as it was, or the new model."""
    now = _manifest_digest(target)
    if now == before:
        return "nothing was written" if before is None else "the model there is as it was"
    return "the new model was saved"


def write_model(out: Path, writers: dict[str, Any], manifest: dict[str, Any], force: bool) -> None:
    """``write_model_dir``; a filesystem fault (disk full) is a RunError saying what is left."""
    before = _manifest_digest(out)
    try:
        write_model_dir(out, writers, manifest, force=force)
    except OSError as e:
        raise RunError(
            f"cannot write the model directory: {e.strerror or e} ({_what_was_left(out, before)})",
            where=str(out),
        ) from None


@contextmanager
def reported_stop(target: Path) -> Iterator[None]:
    """A signal (Ctrl-C, or SIGTERM under the CLI) is an Interrupted saying what is left."""
    from lstmctl.signals import interrupted, signum_of

    before = _manifest_digest(target)
    try:
        yield
    except KeyboardInterrupt as e:
        sig = signum_of(e)
        raise Interrupted(
            f"{interrupted(sig)}; {_what_was_left(target, before)}", where=str(target), signum=sig
        ) from None
