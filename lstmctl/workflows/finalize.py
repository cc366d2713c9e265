"""Lesson 13: finalize a model on all the data.

``finalize(spec, out)`` fits one model (seed = ``spec.seed``) on every row —
no test part — and writes a model directory (see :mod:`lstmctl.modeldir.format`).
With ``backend: auto`` it trains through the compiled replica trainer with a
single replica: the same program, optimizer and batching that produced the
skill estimate of ``lstmctl run``, so the saved model is one more draw from
the distribution that run measured (and it trains several times faster than
Keras ``fit`` would). ``backend: tensorflow`` uses Keras ``fit``. A text
model (``data.problem: text``) is saved with its codec, for ``generate``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.prepared import Prepared
from lstmctl.errors import RunError, UsageError
from lstmctl.modeldir.format import check_target, open_model_dir, save_keras
from lstmctl.spec import Spec, load_spec
from lstmctl.spec.derive import final_spec, final_text_spec
from lstmctl.training.result import Progress
from lstmctl.workflows.modelfiles import (
    SavedModel,
    clean_frame,
    json_value,
    last_value,
    one_fit,
    raw_rows,
    replayed_states,
    reported_stop,
    save_model,
    time_info,
    write_model,
)

log = logging.getLogger("lstmctl")


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
    with reported_stop(out):
        return fit_and_save(spec, out, force=force, onnx=onnx, progress=progress, lineage=None)


def fit_and_save(
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
    frame, labels = clean_frame(final)
    pre_state = _preprocess_state(final, data, frame, labels, states=None)
    model, states = _model_and_states(final, data, fit.weights, pre_state, frame)
    pre_state["states"] = states
    raw = raw_rows(final)
    trained = {
        "trainer": "fused" if final.backend == "auto" else "keras",
        "spec_backend": final.backend,
        "seed": fit.seed,
        "epochs_run": fit.epochs_run,
        "final_loss": last_value(fit.history.get("loss")),
        "rows": int(data.state.get("rows", {}).get("total", len(frame))),
        "windows": int(len(data.X_train)),
        "validation_windows": int(len(data.X_val)),
    }
    trained["split"] = {"test": 0, "validation": final.data.split.validation}
    saved = save_model(
        saved_spec or spec, out, model, pre_state, raw, trained, lineage, force, onnx
    )
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
            "final_loss": last_value(fit.history.get("loss")),
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
    write_model(out, writers, manifest, force)
    return SavedModel(out, open_model_dir(out).manifest, time.perf_counter() - start)


def _train(spec: Spec, data: Prepared, progress: Progress | None = None) -> Any:
    from lstmctl.training.fit import fit_repeats

    return one_fit(fit_repeats(spec, data, progress))


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
        "time": time_info(spec, labels),
        **pipeline.state(),
        "rows": len(frame),
        # The last observations a forecast starts from (in the data's units).
        "tail": {
            "labels": labels[-context:],
            "columns": {c: [json_value(v) for v in tail[c].tolist()] for c in tail.columns},
        },
        "states": states,
    }


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
    return model, replayed_states(model, pre, inputs, len(frame))
