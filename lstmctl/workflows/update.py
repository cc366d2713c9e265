"""Lesson 14: keep a saved model current with new rows.

``update(model_dir, new_rows, scheme)`` keeps a saved model current:

* ``fine-tune``: continue training on the windows whose targets are new rows;
* ``fine-tune-all``: continue training on every window, old and new;
* ``refit``: fit from scratch on old + new rows with the saved spec.

Fine-tuning keeps the saved preprocessing: the scaler fitted on the original
rows stays under the network trained with it (new values beyond its range
map beyond the scaled range; ``refit`` refits it). Fine-tuning starts a fresh
optimizer (optimizer moments are not saved) and trains through the compiled
trainer, which can start from given weights and carries a stateful model's
states explicitly. The new rows (``--data``) are read here; data errors about
the combined rows name the file and line each row came from.

An ensemble (``finalize --members N``) is updated member by member, in one
compiled program: fine-tuning starts every member from its own weights and
carries its own states on, and the intervals' calibration is kept as it was
(the members moved on from the weights it was measured with by a few epochs;
``refit`` calibrates again, on the combined rows, as ``finalize`` does).
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.prepared import Prepared
from lstmctl.errors import DataError, ModelDirError, UsageError
from lstmctl.modeldir.format import ModelDir, open_model_dir
from lstmctl.modeldir.members import member_count
from lstmctl.modeldir.writing import check_target
from lstmctl.spec import Spec
from lstmctl.spec.derive import with_data_path
from lstmctl.training.result import Progress
from lstmctl.workflows.finalize import fit_and_save
from lstmctl.workflows.member_tuning import fine_tuned, fit_members, save_members
from lstmctl.workflows.modelfiles import (
    SavedModel,
    clean_frame,
    json_value,
    member_networks,
    raw_rows,
    reported_stop,
    time_info,
)
from lstmctl.workflows.new_rows import append_csv, new_rows_csv, rows_named_by_origin
from lstmctl.workflows.panel_model import fine_tune_panel

log = logging.getLogger("lstmctl")


SCHEMES = ("fine-tune", "fine-tune-all", "refit")


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
    _check_scheme(scheme, epochs)
    src = Path(model)
    md = open_model_dir(src)
    if md.manifest.get("kind", "forecast") != "forecast" or not md.has("data.csv"):
        raise ModelDirError(
            "expected a forecasting model saved with its data (data.csv), found none",
            where=str(src),
        )
    target = _update_target(src, out, in_place)
    replace = force or in_place  # a model directory there may be replaced, nothing else
    check_target(target, force=replace)
    spec = md.spec()
    from lstmctl.training.backend import use_backend

    # Fine-tuning trains on the compiled JAX trainer (the only one that starts
    # from given weights); refit trains as the saved spec says.
    use_backend(spec.backend if scheme == "refit" else "auto")
    old_csv = md.read_text("data.csv")
    new_csv, new_lines = new_rows_csv(spec, data, text)
    combined, origins = append_csv(old_csv, new_csv, str(src / "data.csv"), new_lines)
    lineage = _lineage(md, src, scheme, epochs, new_csv)
    with (
        reported_stop(target),
        tempfile.TemporaryDirectory(prefix="lstmctl-update-") as tmp,
        rows_named_by_origin(Path(tmp) / "data.csv", origins),
    ):
        path = Path(tmp) / "data.csv"
        path.write_text(combined, encoding="utf-8")
        spec2 = with_data_path(spec, str(path))
        if scheme == "refit":
            saved = fit_and_save(
                spec2,
                target,
                replace,
                onnx,
                progress,
                lineage=lineage,
                saved_spec=spec,
                members=member_count(md),
            )
            return SavedModel(target, saved.manifest, time.perf_counter() - start)
        tune = fine_tune_panel if spec.data.is_panel else _fine_tune
        manifest = tune(
            md, spec2, scheme, int(epochs or 1), target, replace, onnx, lineage, progress, spec
        )
    return SavedModel(target, manifest, time.perf_counter() - start)


def _check_scheme(scheme: str, epochs: int | None) -> None:
    """``--scheme`` and ``--epochs``, checked before the model is opened."""
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


def _update_target(src: Path, out: str | Path | None, in_place: bool) -> Path:
    """Where the updated model goes: ``--out`` (a new place) or the model (``--in-place``)."""
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
    return target


def _lineage(
    md: ModelDir, src: Path, scheme: str, epochs: int | None, new_csv: str
) -> dict[str, Any]:
    """What the updated model's manifest says it came from."""
    return {
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


def _sha(md: ModelDir) -> str:

    return hashlib.sha256((md.path / "manifest.json").read_bytes()).hexdigest()


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
    """Train every saved member on, from its own weights, and save them at ``target``."""
    old_state = md.preprocess
    n_old = int(old_state["rows"])
    pre = _saved_pipeline(md, old_state, spec)
    frame, labels = clean_frame(spec)
    inputs, X, y = _update_windows(pre, frame, scheme, n_old)
    data = _windows_only(pre, X, y)
    fits, changes = fit_members(md, spec, data, X, y, epochs, progress)
    log.info(
        "%s: %d windows, %d epochs, %d member(s), largest weight change %.3g",
        scheme,
        len(X),
        epochs,
        len(fits),
        max(changes),
    )
    state = _moved_on(old_state, pre, spec, frame, labels)
    models, states = member_networks(spec, data, pre, inputs, len(frame), [f.weights for f in fits])
    state["states"] = states[0]
    tuned = fine_tuned(scheme, epochs, len(X), fits, changes, len(frame))
    # spec.data.path is the combined old + new file here.
    return save_members(
        md, spec, saved_spec, target, (models, states), state, raw_rows(spec), tuned,
        lineage, force, onnx,
    )  # fmt: skip


def _saved_pipeline(md: ModelDir, old_state: dict[str, Any], spec: Spec) -> Any:
    """The fitted preprocessing the model was saved with (a damaged entry: ModelDirError)."""
    from lstmctl.data.pipeline import Pipeline

    try:
        return Pipeline.from_state(old_state, source=str(spec.data.path))
    except (KeyError, TypeError, ValueError, AttributeError, DataError) as e:
        raise ModelDirError(
            f"expected the fitted preprocessing lstmctl writes, found a damaged entry ({e})",
            where=str(md.path / "preprocess.json"),
        ) from None


def _update_windows(
    pre: Any, frame: pd.DataFrame, scheme: str, n_old: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scaled inputs and the windows ``scheme`` trains on (X, y)."""
    from lstmctl.data.windows import Windower

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
    return inputs, X, y


def _windows_only(pre: Any, X: np.ndarray, y: np.ndarray) -> Prepared:
    """The training windows as prepared data, with no validation or test part."""
    empty_x, empty_y = X[:0], y[:0]
    return Prepared(
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


def _moved_on(
    old_state: dict[str, Any], pre: Any, spec: Spec, frame: pd.DataFrame, labels: list[str]
) -> dict[str, Any]:
    """The saved preprocess.json after the new rows.

    The fitted preprocessing is kept as it was; only the last observations,
    the states and the row count move on.
    """
    state = dict(old_state)
    state["rows"] = len(frame)
    lags = pre.lags
    context = pre.lookback + lags
    tail = frame.iloc[-context:]
    state["tail"] = {
        "labels": labels[-context:],
        "columns": {c: [json_value(v) for v in tail[c].tolist()] for c in tail.columns},
    }
    state["time"] = {**old_state["time"], **time_info(spec, labels)}
    return state
