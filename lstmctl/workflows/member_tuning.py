"""Fine-tuning a saved model's members on new windows, one series or a panel alike.

Every member trains on from its own saved weights in one fused fit (seeds as
saved); the facts of the fine-tune go into the manifest's ``trained`` and the
members are saved back with the calibration their intervals were made with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.modeldir.format import ModelDir
from lstmctl.modeldir.members import calibration, member_count, member_file
from lstmctl.spec import Spec
from lstmctl.training.result import FitResult, Progress
from lstmctl.workflows.modelfiles import Ensemble, every_fit, last_value, save_model


def fit_members(
    md: ModelDir,
    spec: Spec,
    data: Prepared,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    progress: Progress | None,
) -> tuple[list[FitResult], list[float]]:
    """Every member of ``md`` trained on ``X, y`` for ``epochs`` from its own weights;
    the fits and each member's largest weight change."""
    from lstmctl.spec.derive import derive, fine_tune_spec
    from lstmctl.training.updates import fit_windows

    n = member_count(md)
    tune = derive(fine_tune_spec(spec, epochs, len(X)), {"evaluate.repeats": n}, validate=False)
    initial = [
        [np.asarray(w) for w in md.load_keras(member_file(i, "keras")).get_weights()]
        for i in range(n)
    ]
    fits = every_fit(fit_windows(tune, data, X, y, initial, progress))
    changes = [
        max(float(np.max(np.abs(a - b))) for a, b in zip(f.weights, w, strict=True))
        for f, w in zip(fits, initial, strict=True)
    ]
    return fits, changes


def fine_tuned(
    scheme: str,
    epochs: int,
    windows: int,
    fits: list[FitResult],
    changes: list[float],
    rows: int,
    **extra: Any,
) -> dict[str, Any]:
    """The manifest's ``trained.fine_tuned``: what the fine-tune did."""
    facts: dict[str, Any] = {
        "scheme": scheme,
        "epochs": epochs,
        "windows": int(windows),
        **extra,
        "final_loss": last_value(fits[0].history.get("loss")),
        "max_weight_change": max(changes),
        "rows": rows,
    }
    if len(fits) > 1:
        facts["member_weight_changes"] = changes
    return facts


def save_members(
    md: ModelDir,
    spec: Spec,
    saved_spec: Spec,
    target: Path,
    networks: tuple[list[Any], list[Any]],
    state: dict[str, Any],
    raw: str,
    tuned: dict[str, Any],
    lineage: dict[str, Any],
    force: bool,
    onnx: bool,
) -> dict[str, Any]:
    """The fine-tuned members (``networks``: models and their states) saved at ``target``,
    with ``md``'s seeds and calibration."""
    models, states = networks
    trained = {**md.manifest.get("trained", {}), "fine_tuned": tuned}
    ensemble = None
    if len(models) > 1:
        seeds = md.manifest["members"].get("seeds") or [spec.seed + i for i in range(len(models))]
        ensemble = Ensemble(models[1:], list(seeds), states, calibration(md))
    return save_model(
        saved_spec, target, models[0], state, raw, trained, lineage, force, onnx, ensemble
    )
