"""Lessons 13 and 14: finalize a model on all the data, and keep it current.

``finalize(spec, out)`` fits one model (seed = ``spec.seed``) on every row —
no test part — and writes a model directory (see :mod:`lstmctl.modeldir.format`).
With ``backend: auto`` it trains through the compiled replica trainer with a
single replica: the same program, optimizer and batching that produced the
skill estimate of ``lstmctl run``, so the saved model is one more draw from
the distribution that run measured (and it trains several times faster than
Keras ``fit`` would). ``backend: tensorflow`` uses Keras ``fit``.

``update(model_dir, new_rows, scheme)`` keeps a saved model current:

* ``fine-tune``: continue training on the windows whose targets are new rows;
* ``fine-tune-all``: continue training on every window, old and new;
* ``refit``: fit from scratch on old + new rows with the saved spec.

Fine-tuning keeps the saved preprocessing: the scaler fitted on the original
rows stays under the network trained with it (new values beyond its range
map beyond the scaled range; ``refit`` refits it). Fine-tuning starts a fresh
optimizer (optimizer moments are not saved) and trains through the compiled
trainer, which can start from given weights and carries a stateful model's
states explicitly.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.prepared import Prepared
from lstmctl.errors import DataError, Interrupted, ModelDirError, RunError, UsageError, undecodable
from lstmctl.modeldir.format import (
    ExportFailed,
    ModelDir,
    check_target,
    export_onnx,
    open_model_dir,
    save_keras,
    write_model_dir,
)
from lstmctl.spec import Spec, load_spec
from lstmctl.spec.derive import final_spec, final_text_spec, fine_tune_spec, with_data_path
from lstmctl.training.network import replay_states
from lstmctl.training.result import Progress

log = logging.getLogger("lstmctl")

SCHEMES = ("fine-tune", "fine-tune-all", "refit")


@dataclass
class SavedModel:
    """What ``finalize`` and ``update`` report."""

    path: Path
    manifest: dict[str, Any]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "model": str(self.path),
            "name": m.get("name"),
            "arch": m.get("arch"),
            "trained": m.get("trained"),
            "onnx": m.get("onnx"),
            "lineage": m.get("lineage"),
            "files": sorted(m.get("files", {})),
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------------- finalize


def finalize(
    spec: Spec | str | Path,
    out: str | Path,
    overrides: list[str] | None = None,
    force: bool = False,
    onnx: bool = True,
    progress: Progress | None = None,
) -> SavedModel:
    """Fit one model on all the data and save it as a model directory at ``out``."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides or [])
    out = check_target(out, force)  # before any training
    with _reported_stop(out):
        return _finalize(spec, out, force=force, onnx=onnx, progress=progress, lineage=None)


def _finalize(
    spec: Spec,
    out: Path,
    force: bool,
    onnx: bool,
    progress: Progress | None,
    lineage: dict[str, Any] | None,
    saved_spec: Spec | None = None,
) -> SavedModel:
    from lstmctl.evaluation.preflight import prepare_run

    start = time.perf_counter()
    if spec.data.problem == "text":
        return _finalize_text(spec, out, force, progress, lineage, start)
    if spec.data.path is None:
        raise UsageError(
            "finalize saves models of series read from a CSV file (data.path) and "
            f"text models (data.problem: text); this spec generates {spec.data.problem!r}",
            where="data.problem",
        )
    final, data = prepare_run(final_spec(spec))
    log.info("finalize: %d training windows (all the data)", len(data.X_train))
    fit = _train(final, data, progress=progress)
    frame, labels = _clean_frame(final)
    pre_state = _preprocess_state(final, data, frame, labels, states=None)
    model, states = _model_and_states(final, data, fit.weights, pre_state, frame)
    pre_state["states"] = states
    raw = _raw_rows(final)
    trained = {
        "trainer": "fused" if final.backend == "auto" else "keras",
        "spec_backend": final.backend,
        "seed": fit.seed,
        "epochs_run": fit.epochs_run,
        "final_loss": _last(fit.history.get("loss")),
        "rows": int(data.state.get("rows", {}).get("total", len(frame))),
        "windows": int(len(data.X_train)),
        "validation_windows": int(len(data.X_val)),
    }
    trained["split"] = {"test": 0, "validation": final.data.split.validation}
    saved = _save(saved_spec or spec, out, model, pre_state, raw, trained, lineage, force, onnx)
    return SavedModel(out, saved, time.perf_counter() - start)


def _finalize_text(
    spec: Spec,
    out: Path,
    force: bool,
    progress: Progress | None,
    lineage: dict[str, Any] | None,
    start: float,
) -> SavedModel:
    """A generative text model: trained on every window of the text, saved with its codec."""
    import dataclasses

    from lstmctl.evaluation.preflight import prepare_run
    from lstmctl.models.registry import build_model
    from lstmctl.training.keras_fit import shapes_for

    final, data = prepare_run(final_text_spec(spec))
    # The held-out windows only measured skill during `run`; a final model learns them too.
    data = dataclasses.replace(
        data,
        X_train=np.concatenate([data.X_train, data.X_val, data.X_test]),
        y_train=np.concatenate([data.y_train, data.y_val, data.y_test]),
        X_val=data.X_val[:0],
        y_val=data.y_val[:0],
    )
    log.info("finalize: %d training windows (all the text)", len(data.X_train))
    fit = _train(final, data, progress=progress)
    model = build_model(final.model, shapes_for(final, data))
    model.set_weights(fit.weights)
    manifest: dict[str, Any] = {
        "kind": "generative",
        "name": spec.name,
        "arch": spec.model.arch,
        "stateful": False,
        "inputs": [{"name": t.name, "shape": list(t.shape)} for t in model.inputs],
        "outputs": [{"shape": list(t.shape)} for t in model.outputs],
        "trained": {
            "trainer": "fused" if final.backend == "auto" else "keras",
            "seed": fit.seed,
            "epochs_run": fit.epochs_run,
            "final_loss": _last(fit.history.get("loss")),
            "windows": int(len(data.X_train)),
        },
        "lineage": lineage,
        "onnx": {"skipped": "generate samples with Keras"},
    }
    pre_state = {"text": data.state["text"]}
    writers = {
        "spec.yaml": lambda p: p.write_text(spec.to_yaml(), encoding="utf-8"),
        "preprocess.json": lambda p: p.write_text(
            json.dumps(pre_state, indent=1, allow_nan=False) + "\n", encoding="utf-8"
        ),
        "model.keras": lambda p: save_keras(model, p),
    }
    _write_model(out, writers, manifest, force)
    return SavedModel(out, open_model_dir(out).manifest, time.perf_counter() - start)


def generate(
    model_dir: str | Path,
    prompt: str = "",
    length: int = 200,
    temperature: float = 1.0,
    seed: int | None = None,
) -> Iterator[str]:
    """Sample text from a saved generative model, piece by piece (see serving.generation)."""
    from lstmctl.serving.generation import TextCodec, check_seed, iter_text
    from lstmctl.training.backend import use_backend

    check_seed(seed, where="--seed")  # before the model is loaded
    md = open_model_dir(model_dir)
    if md.manifest.get("kind") != "generative":
        raise ModelDirError(
            f"expected a generative text model, found a {md.manifest.get('kind')!r} model "
            "(use lstmctl predict)",
            where=str(model_dir),
        )
    codec = TextCodec.from_state(md.preprocess, where=str(md.path / "preprocess.json"))
    use_backend(md.spec().backend)
    model = md.load_keras()
    return iter_text(model, codec, prompt, length, temperature, seed)


def _train(spec: Spec, data: Prepared, progress: Progress | None = None) -> Any:
    from lstmctl.training.fit import fit_repeats

    return _trained(fit_repeats(spec, data, progress))


def _trained(fits: list[Any]) -> Any:
    """The one repeat fitted, or the error it failed with."""
    fit = fits[0]
    if fit.error is not None or not fit.weights:
        raise RunError(f"training failed: {fit.error or 'no weights'}", where="train")
    return fit


def _last(values: list[float] | None) -> float | None:
    return float(values[-1]) if values else None


def _clean_frame(spec: Spec) -> tuple[pd.DataFrame, list[str]]:
    """The used columns after missing-value handling, with their time labels (as prepare)."""
    from lstmctl.data.loading import load_csv
    from lstmctl.data.pipeline import Pipeline

    frame, labels = load_csv(spec.data)
    lab = pd.Series(labels, index=frame.index)
    frame = Pipeline.from_spec(spec.data, str(spec.data.path)).clean(frame, record=True)
    return frame.reset_index(drop=True), [str(v) for v in lab.loc[frame.index]]


def _raw_rows(spec: Spec) -> str:
    """The used and time columns of the data file, as written (what `update` appends to)."""
    cols = _file_columns(spec)
    raw = pd.read_csv(str(spec.data.path), dtype=str, encoding="utf-8-sig")
    return str(raw[cols].to_csv(index=False, lineterminator="\n"))


def _file_columns(spec: Spec) -> list[str]:
    time_cols = spec.data.time
    times = [] if time_cols is None else [time_cols] if isinstance(time_cols, str) else time_cols
    return [*times, *spec.data.target, *spec.data.features]


def _time_info(spec: Spec, labels: list[str]) -> dict[str, Any]:
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


def _preprocess_state(
    spec: Spec,
    data: Prepared,
    frame: pd.DataFrame,
    labels: list[str],
    states: list[list[list[float]]] | None,
) -> dict[str, Any]:
    # The fitted pipeline's own state: what predict restores and applies.
    pipeline = data.pipeline
    if pipeline is None:
        raise RunError("internal: no fitted preprocessing to save", where="preprocess.json")
    context = pipeline.context
    tail = frame.iloc[-context:]
    return {
        "format_version": 1,
        "time": _time_info(spec, labels),
        **pipeline.state(),
        "rows": len(frame),
        # The last observations a forecast starts from (in the data's units).
        "tail": {
            "labels": labels[-context:],
            "columns": {c: [_json_value(v) for v in tail[c].tolist()] for c in tail.columns},
        },
        "states": states,
    }


def _json_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    return v if isinstance(v, str) else float(v)


def _model_and_states(
    spec: Spec,
    data: Prepared,
    weights: list[np.ndarray],
    pre_state: dict[str, Any],
    frame: pd.DataFrame,
) -> tuple[Any, list[list[list[float]]] | None]:
    """The saved network (states as explicit inputs) and the states after the training rows."""
    from lstmctl.data.pipeline import Pipeline
    from lstmctl.models.registry import build_model
    from lstmctl.training.keras_fit import shapes_for

    shapes = shapes_for(spec, data, state_mode="explicit")
    model = build_model(spec.model, shapes)
    model.set_weights(weights)
    if len(model.inputs) == 1:
        return model, None
    # The saved pipeline, as predict restores it, carries the states forward.
    pre = Pipeline.from_state(pre_state)
    inputs = pre.transform(frame).inputs
    # Every window up to the one ending a row before the last: the saved last
    # window (ending at the last row) is then the first one a forecast feeds.
    lb = pre.lookback
    origins = np.arange(pre.context - 1, len(frame) - 1)
    idx = origins[:, None] + np.arange(-lb + 1, 1)[None, :]
    X = np.asarray(inputs[idx], dtype=np.float32)
    X = X[~np.isnan(X).any(axis=(1, 2))]
    states = replay_states(model, X)
    return model, [s.tolist() for s in states]


def _save(
    spec: Spec,
    out: Path,
    model: Any,
    pre_state: dict[str, Any],
    raw_csv: str,
    trained: dict[str, Any],
    lineage: dict[str, Any] | None,
    force: bool,
    onnx: bool,
) -> dict[str, Any]:
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

    def keras_file(path: Path) -> None:
        save_keras(model, path)

    def onnx_file(path: Path) -> None:
        if not onnx:
            manifest["onnx"] = {"skipped": "--no-onnx"}
            return
        try:
            manifest["onnx"] = export_onnx(path.parent / "model.keras", path)
        except ExportFailed as e:
            log.warning("model.onnx not written: %s (predict will use Keras)", e)
            manifest["onnx"] = {"skipped": str(e)}
            path.unlink(missing_ok=True)

    # The spec as the user wrote it (finalize only drops its test part, as
    # manifest.trained.split says): `update --scheme refit` trains it again.
    writers = {
        "spec.yaml": lambda p: p.write_text(spec.to_yaml(), encoding="utf-8"),
        "preprocess.json": lambda p: p.write_text(
            json.dumps(pre_state, indent=1, allow_nan=False) + "\n", encoding="utf-8"
        ),
        "data.csv": lambda p: p.write_text(raw_csv, encoding="utf-8"),
        "model.keras": keras_file,
        "model.onnx": onnx_file,
    }
    _write_model(out, writers, manifest, force)
    return open_model_dir(out).manifest


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


def _write_model(out: Path, writers: dict[str, Any], manifest: dict[str, Any], force: bool) -> None:
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
def _reported_stop(target: Path) -> Iterator[None]:
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


# --------------------------------------------------------------------------- update


def update(
    model: str | Path,
    data: str | Path | None = None,
    scheme: str = "fine-tune",
    epochs: int | None = None,
    out: str | Path | None = None,
    in_place: bool = False,
    force: bool = False,
    onnx: bool = True,
    text: str | None = None,
    progress: Progress | None = None,
) -> SavedModel:
    """Update a saved model with new rows (``data``: a CSV file; or ``text``) under ``scheme``."""
    start = time.perf_counter()
    if scheme not in SCHEMES:
        raise UsageError(f"expected one of {', '.join(SCHEMES)}, found {scheme!r}", "--scheme")
    if scheme != "refit" and epochs is None:
        raise UsageError(
            f"{scheme} continues training: say for how many epochs with --epochs N "
            "(lesson 13 found 2 enough on Shampoo)",
            where="--epochs",
        )
    if epochs is not None and epochs < 1:
        raise UsageError(f"expected --epochs >= 1, found {epochs}", where="--epochs")
    if epochs is not None and epochs > 2**31 - 1:  # as train.epochs: the trainer counts in int32
        raise UsageError(f"expected --epochs <= 2147483647, found {epochs}", where="--epochs")
    src = Path(model)
    md = open_model_dir(src)
    if md.manifest.get("kind", "forecast") != "forecast" or not md.has("data.csv"):
        raise ModelDirError(
            "expected a forecasting model saved with its data (data.csv), found none",
            where=str(src),
        )
    if in_place and out is not None:
        raise UsageError("give --out or --in-place, not both", where="--in-place")
    if out is None and not in_place:
        raise UsageError(
            "say where the updated model goes: --out saved/NEW (the original is kept), "
            "or --in-place to replace it",
            where="--out",
        )
    target = src if in_place else Path(str(out))
    if not in_place and target.resolve() == src.resolve():
        raise UsageError("--out is the model being updated; use --in-place", where="--out")
    replace = force or in_place  # a model directory there may be replaced, nothing else
    check_target(target, force=replace)
    spec = md.spec()
    from lstmctl.training.backend import use_backend

    # Fine-tuning trains on the compiled JAX trainer (the only one that starts
    # from given weights); refit trains as the saved spec says.
    use_backend(spec.backend if scheme == "refit" else "auto")
    old_csv = md.read_text("data.csv")
    new_csv, new_lines = _new_rows_csv(spec, data, text)
    combined, origins = _append_csv(old_csv, new_csv, str(src / "data.csv"), new_lines)
    lineage = {
        "scheme": scheme,
        "epochs": epochs,
        "parent": {
            "path": str(src),
            "created": md.manifest.get("created"),
            "manifest_sha256": _sha(md),
        },
        "new_rows": int(len(pd.read_csv(io.StringIO(new_csv), dtype=str))),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with (
        _reported_stop(target),
        tempfile.TemporaryDirectory(prefix="lstmctl-update-") as tmp,
        _rows_named_by_origin(Path(tmp) / "data.csv", origins),
    ):
        path = Path(tmp) / "data.csv"
        path.write_text(combined, encoding="utf-8")
        spec2 = with_data_path(spec, str(path))
        if scheme == "refit":
            saved = _finalize(
                spec2, target, replace, onnx, progress, lineage=lineage, saved_spec=spec
            )
            return SavedModel(target, saved.manifest, time.perf_counter() - start)
        manifest = _fine_tune(
            md, spec2, scheme, int(epochs or 1), target, replace, onnx, lineage, progress, spec
        )
    return SavedModel(target, manifest, time.perf_counter() - start)


# "line 63", "lines 61 and 63": how data errors name rows of a CSV.
_LINES = re.compile(r"\b(lines? )(\d+)(?:( and )(\d+))?")


@contextmanager
def _rows_named_by_origin(combined: Path, origins: list[tuple[str, int]]) -> Iterator[None]:
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
        raise DataError(*_relocate(e.message, e.where, tmp, origins)) from None


def _relocate(
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


def _sha(md: ModelDir) -> str:
    import hashlib

    return hashlib.sha256((md.path / "manifest.json").read_bytes()).hexdigest()


def _new_rows_csv(
    spec: Spec, data: str | Path | None, text: str | None
) -> tuple[str, list[tuple[str, int]]]:
    """The new rows' training columns as CSV, and each row's file and line (for errors)."""
    if (data is None) == (text is None):
        raise UsageError("give the new rows with --data FILE (or - for stdin)", where="--data")
    source = "--data" if data is None or str(data) == "-" else str(data)
    if text is None:
        p = Path(str(data))
        if not p.is_file():
            raise DataError("data file not found", where=str(p))
        try:
            text = p.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as e:
            line, found = undecodable(e)
            raise DataError(
                f"expected UTF-8 text, {found} on line {line} ({e.reason}); save the file as UTF-8",
                where=source,
            ) from None
    try:
        # Blank lines read as empty rows and then left out, so each row keeps its line number.
        raw = pd.read_csv(io.StringIO(text), dtype=str, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        msg = " ".join(str(e).split())
        raise DataError(f"expected CSV with a header line ({msg})", source) from None
    cols = _file_columns(spec)
    absent = [c for c in cols if c not in raw.columns]
    if absent:
        raise DataError(
            f"expected the training columns {', '.join(cols)}, found no {', '.join(absent)}",
            where=f"{source}: column {absent[0]}",
        )
    raw.index = pd.RangeIndex(2, 2 + len(raw))  # the header is line 1
    raw = raw[raw[cols].notna().any(axis=1)]
    if raw.empty:
        raise DataError("expected new rows after the header line, found none", where=source)
    lines = [(source, int(n)) for n in raw.index]
    return str(raw[cols].to_csv(index=False, lineterminator="\n")), lines


def _append_csv(
    old: str, new: str, old_source: str, new_lines: list[tuple[str, int]]
) -> tuple[str, list[tuple[str, int]]]:
    """The saved rows then the new ones, as CSV, and each row's file and line."""
    a = pd.read_csv(io.StringIO(old), dtype=str)
    b = pd.read_csv(io.StringIO(new), dtype=str)
    text = str(pd.concat([a, b], ignore_index=True).to_csv(index=False, lineterminator="\n"))
    return text, [(old_source, i + 2) for i in range(len(a))] + new_lines


def _fine_tune(
    md: ModelDir,
    spec: Spec,
    scheme: str,
    epochs: int,
    target: Path,
    force: bool,
    onnx: bool,
    lineage: dict[str, Any],
    progress: Progress | None,
    saved_spec: Spec,
) -> dict[str, Any]:
    from lstmctl.data.pipeline import Pipeline
    from lstmctl.data.windows import Windower

    old_state = md.preprocess
    n_old = int(old_state["rows"])
    try:
        pre = Pipeline.from_state(old_state, source=str(spec.data.path))
    except (KeyError, TypeError, ValueError, AttributeError, DataError) as e:
        raise ModelDirError(
            f"expected the fitted preprocessing lstmctl writes, found a damaged entry ({e})",
            where=str(md.path / "preprocess.json"),
        ) from None
    frame, labels = _clean_frame(spec)
    t = pre.transform(frame)
    inputs, scaled = t.inputs, t.targets
    windower = Windower(pre.lookback, pre.horizon, allow_missing_inputs=pre.mask_value is not None)
    X, y, origins = windower.fit().transform(inputs, scaled)
    if scheme == "fine-tune":
        # Windows with a new row among their targets: what was not learned from yet.
        keep = origins + pre.horizon >= n_old
        X, y = X[keep], y[keep]
    if not len(X):
        raise DataError(
            f"expected at least one complete window with new targets, found none in "
            f"{len(frame) - n_old} new rows",
            where="--data",
        )
    tune = fine_tune_spec(spec, epochs, len(X))
    empty_x, empty_y = X[:0], y[:0]
    data = Prepared(
        X_train=X,
        y_train=y,
        X_val=empty_x,
        y_val=empty_y,
        X_test=empty_x,
        y_test=empty_y,
        actual_test=np.zeros((0, pre.horizon, len(pre.targets))),
        persistence_test=np.zeros((0, pre.horizon, len(pre.targets))),
        inverse=lambda p: np.asarray(p, dtype=np.float64),
        input_names=list(pre.input_names_),
        target_names=list(pre.targets),
        test_labels=[],
        mask_value=pre.mask_value,
        state={},
    )
    saved = md.load_keras()
    from lstmctl.training.updates import fit_windows

    initial = [np.asarray(w) for w in saved.get_weights()]
    fit = _trained(fit_windows(tune, data, X, y, [initial], progress))
    changed = max(
        float(np.max(np.abs(a - np.asarray(b))))
        for a, b in zip(fit.weights, saved.get_weights(), strict=True)
    )
    log.info(
        "%s: %d windows, %d epochs, largest weight change %.3g", scheme, len(X), epochs, changed
    )
    # The fitted preprocessing is kept as it was; only the last observations,
    # the states and the row count move on.
    state = dict(old_state)
    state["rows"] = len(frame)
    lags = pre.lags
    context = pre.lookback + lags
    tail = frame.iloc[-context:]
    state["tail"] = {
        "labels": labels[-context:],
        "columns": {c: [_json_value(v) for v in tail[c].tolist()] for c in tail.columns},
    }
    state["time"] = {**old_state["time"], **_time_info(spec, labels)}
    from lstmctl.models.registry import build_model
    from lstmctl.training.keras_fit import shapes_for

    model = build_model(spec.model, shapes_for(spec, data, state_mode="explicit"))
    model.set_weights(fit.weights)
    if len(model.inputs) > 1:
        lb = pre.lookback
        org = np.arange(pre.context - 1, len(frame) - 1)
        idx = org[:, None] + np.arange(-lb + 1, 1)[None, :]
        Xs = np.asarray(inputs[idx], dtype=np.float32)
        Xs = Xs[~np.isnan(Xs).any(axis=(1, 2))]
        state["states"] = [s.tolist() for s in replay_states(model, Xs)]
    trained = {
        **md.manifest.get("trained", {}),
        "fine_tuned": {
            "scheme": scheme,
            "epochs": epochs,
            "windows": int(len(X)),
            "final_loss": _last(fit.history.get("loss")),
            "max_weight_change": changed,
            "rows": len(frame),
        },
    }
    # spec.data.path is the combined old + new file here.
    raw = _raw_rows(spec)
    return _save(saved_spec, target, model, state, raw, trained, lineage, force, onnx)
