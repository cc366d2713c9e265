"""Lesson 13: finalize a model on all the data — one model, or an ensemble of N.

``finalize(spec, out, members=N)`` fits N models (seeds ``spec.seed + i``) on
every row — no test part — and writes a model directory (see
:mod:`lstmctl.modeldir.format` and, for the members, :mod:`lstmctl.modeldir.members`).
With ``backend: auto`` the N members train together as replicas of the
compiled trainer, one program: the same program, optimizer and batching that
produced the skill estimate of ``lstmctl run``, so each saved member is one
more draw from the distribution that run measured. ``backend: tensorflow``
uses Keras ``fit`` for each. ``members=1`` is the single model of earlier
versions, saved exactly as before. A text model (``data.problem: text``) is
saved with its codec, for ``generate``, and is always one model.

The ensemble's intervals. ``predict`` forecasts with the members' mean and
can give conformal prediction intervals around it
(:class:`lstmctl.evaluation.intervals.Conformal`). Members trained on all the
data leave no windows to calibrate on, so finalize also fits N members once
more with the last C windows held out as a validation part (C = the spec's
``split.test``, as ``run`` calibrates), and fits the calibrator on their
forecasts of those windows (original units) against the actual values, at the
spec's ``evaluate.intervals`` levels (0.8 and 0.95 when it names none).
``intervals.json`` keeps the calibrator's state and the calibration windows
themselves (the held-out members' forecasts and the actuals), so ``predict``
can calibrate any other level on the same windows.

The assumption this rests on, stated: the conformity scores are distances
from the ensemble mean *in units of the members' spread* (plus a floor), so
they describe the members as a kind of model, not the particular N weights
of the held-out fit; they are taken to transfer to the all-data members,
whose spread is measured afresh at every forecast. The all-data members saw
C more windows than the held-out ones, so their errors are, if anything,
smaller: the intervals should err on the wide side. With one member there is
no spread to scale by and no intervals: ``--members 1`` saves none (and does
not fit twice), so its directory is the one-model layout of before.

A panel with ``data.short_series: skip`` leaves out, in both fits, the series
``run`` skips (too short for its test and validation parts) even where all the
rows would be enough: the saved model serves only series that were scored and
calibrated, and ``preprocess.json``'s ``skipped`` lists them with why, so
``predict --series`` refuses them by name.
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
from lstmctl.modeldir.format import open_model_dir
from lstmctl.modeldir.writing import check_target, save_keras
from lstmctl.spec import Spec, load_spec
from lstmctl.spec.derive import final_spec, final_text_spec, leaving_out
from lstmctl.training.result import Progress
from lstmctl.workflows.modelfiles import (
    Ensemble,
    SavedModel,
    clean_frame,
    every_fit,
    json_value,
    last_value,
    member_networks,
    one_fit,
    raw_rows,
    reported_stop,
    save_model,
    time_info,
    write_model,
)
from lstmctl.workflows.panel_model import panel_preprocess_state, skipped_by_run

log = logging.getLogger("lstmctl")

# The default ensemble: the mean of 10 members forecasts better than one (each
# member's seed-driven error partly cancels), and 10 give a usable spread for
# the intervals; more cost training time for little.
DEFAULT_MEMBERS = 10
# Interval levels calibrated when the spec's evaluate.intervals names none.
DEFAULT_LEVELS = (0.8, 0.95)


def finalize(
    spec: Spec | str | Path,
    out: str | Path,
    overrides: list[str] | None = None,
    force: bool = False,
    onnx: bool = True,
    progress: Progress | None = None,
    members: int = 1,
) -> SavedModel:
    """Fit ``members`` models on all the data and save them as a model directory at ``out``.

    One member by default here, the model of earlier versions; the command and
    ``lstmctl.finalize`` default to ``DEFAULT_MEMBERS``.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides or [])
    if members < 1:
        raise UsageError(f"expected at least 1 member, found {members}", where="--members")
    out = check_target(out, force)  # before any training
    with reported_stop(out):
        return fit_and_save(
            spec, out, force=force, onnx=onnx, progress=progress, lineage=None, members=members
        )


def fit_and_save(
    spec: Spec,
    out: Path,
    force: bool,
    onnx: bool,
    progress: Progress | None,
    lineage: dict[str, Any] | None,
    saved_spec: Spec | None = None,
    members: int = 1,
) -> SavedModel:
    """Fit ``members`` models on every row of ``spec``'s data (and calibrate them), and save."""
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
    saved_spec = saved_spec or spec
    if spec.data.is_panel and spec.data.short_series == "skip":
        # Every fit here leaves out the series run skips: the model serves scored series only.
        spec = leaving_out(spec, skipped_by_run(spec))
    final, data = prepare_run(_members_spec(final_spec(spec), members))
    log.info("finalize: %d training windows (all the data), %d members", len(data.X_train), members)
    fits = every_fit(_fit(final, data, progress))
    weights = [f.weights for f in fits]
    if final.data.is_panel:  # a panel (of one, too): every series' pipeline and last rows
        pre_state, n_rows = panel_preprocess_state(final, data)
        models, states = member_networks(final, data, None, None, 0, weights)
    else:
        frame, labels = clean_frame(final)
        pre_state = _preprocess_state(final, data, frame, labels, states=None)
        models, states = _networks(final, data, weights, pre_state, frame)
        pre_state["states"] = states[0]
        n_rows = len(frame)
    fit = fits[0]
    trained = {
        "trainer": "fused" if final.backend == "auto" else "keras",
        "spec_backend": final.backend,
        "seed": fit.seed,
        "epochs_run": fit.epochs_run,
        "final_loss": last_value(fit.history.get("loss")),
        "rows": int(data.state.get("rows", {}).get("total", n_rows)),
        "windows": int(len(data.X_train)),
        "validation_windows": int(len(data.X_val)),
    }
    trained["split"] = {"test": 0, "validation": final.data.split.validation}
    if data.panel is not None:
        trained["series"] = len(data.panel.ids)
    ensemble = None
    if members > 1:
        ensemble = Ensemble(
            models=models[1:],
            seeds=[int(f.seed) for f in fits],
            states=states,
            calibration=calibrate(spec, members, progress),
        )
    saved = save_model(
        saved_spec,
        out,
        models[0],
        pre_state,
        raw_rows(final),
        trained,
        lineage,
        force,
        onnx,
        ensemble,
    )
    return SavedModel(out, saved, time.perf_counter() - start)


def _members_spec(spec: Spec, members: int) -> Spec:
    """``spec`` fitting ``members`` repeats (seeds spec.seed + i): the ensemble's members."""
    from lstmctl.spec.derive import derive

    return derive(spec, {"evaluate.repeats": members}, validate=False)


def calibrate(spec: Spec, members: int, progress: Progress | None) -> dict[str, Any] | None:
    """Fit ``members`` members with the last windows held out; calibrate intervals on them.

    What ``intervals.json`` holds (see the module's docstring), or None when
    the data leaves no window to hold out or the forecasts are not real values.
    """
    from lstmctl.evaluation.ensemble import window_series
    from lstmctl.evaluation.intervals import Conformal
    from lstmctl.evaluation.preflight import prepare_run
    from lstmctl.spec.derive import derive

    held_out = spec.data.split.test
    cal = derive(
        _members_spec(final_spec(spec), members),
        {"data.split.validation": held_out},
        validate=False,
    )
    cal, data = prepare_run(cal)
    if data.task != "regression" or data.inverse_val is None or data.actual_val is None:
        log.warning("finalize: no intervals (the forecasts are not real values)")
        return None
    if not len(data.X_val):
        log.warning("finalize: no intervals (no windows left to hold out for calibration)")
        return None
    log.info("finalize: calibrating intervals on %d held-out windows", len(data.X_val))
    forecasts = [
        data.inverse_val(np.asarray(f.val_pred, dtype=np.float64))
        for f in _fit(cal, data, progress)
        if f.error is None and f.val_pred is not None and np.size(f.val_pred)
    ]
    if not forecasts:
        raise RunError("no member of the calibration fit gave forecasts", where="train")
    levels = sorted(spec.evaluate.intervals or DEFAULT_LEVELS)
    stack, actual = np.stack(forecasts), np.asarray(data.actual_val, dtype=np.float64)
    series = window_series(data, "val")  # a panel's: calibrated per series
    conformal = Conformal().fit(stack, actual, levels, series)
    for warning in conformal.warnings_:
        log.warning("finalize: %s", warning)
    return {
        "format_version": 1,
        "summary": {
            "levels": list(conformal.levels_),
            "windows": int(len(actual)),
            "members": len(forecasts),
            "method": "split conformal, normalized by the members' spread, per horizon step",
        },
        "state": conformal.state(),
        # The windows themselves: predict calibrates any other level on them.
        "windows": {
            "held_out": held_out,
            "members": _finite_lists(stack),
            "actual": _finite_lists(actual),
            # A panel's: the series of each window, to calibrate other levels per series.
            **({"series": series} if series is not None else {}),
        },
    }


def _finite_lists(a: np.ndarray) -> Any:
    """``a`` as nested lists with None for a missing value (JSON has no NaN)."""
    out = a.astype(object)
    out[~np.isfinite(a)] = None
    return out.tolist()


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
    return one_fit(_fit(spec, data, progress))


def _fit(spec: Spec, data: Prepared, progress: Progress | None) -> list[Any]:
    """Every repeat of ``spec`` (one fused program with ``backend: auto``)."""
    from lstmctl.training.fit import fit_repeats

    return fit_repeats(spec, data, progress)


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


def _networks(
    spec: Spec,
    data: Prepared,
    weights: list[list[np.ndarray]],
    pre_state: dict[str, Any],
    frame: pd.DataFrame,
) -> tuple[list[Any], list[Any]]:
    """The saved networks (states as explicit inputs) and their states after the rows."""
    from lstmctl.data.pipeline import Pipeline

    # The saved pipeline, as predict restores it, carries a stateful model's states forward.
    pre = Pipeline.from_state(pre_state)
    inputs = pre.transform(frame).inputs
    return member_networks(spec, data, pre, inputs, len(frame), weights)
