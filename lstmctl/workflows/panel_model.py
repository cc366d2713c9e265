"""A panel's model directory: what ``finalize`` saves of many series, ``update`` moves on.

A panel (``data.series``) is one global network over many series, each with
its own fitted pipeline. Its ``preprocess.json`` is
:meth:`lstmctl.data.panel.state.PanelPipelines.state` (every series'
pipeline, static inputs and last observations; the layout is in that
module's docstring) plus the time columns and frequency; ``data.csv`` keeps
the long table's used columns (series, time, targets, features, known,
static), which ``update`` appends new rows to.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.loading import load_long
from lstmctl.data.panel.prepare import fit_panel
from lstmctl.data.panel.state import PanelPipelines, SeriesState
from lstmctl.data.panel.table import SeriesRows, split_series
from lstmctl.data.prepared import Prepared
from lstmctl.errors import DataError, ModelDirError
from lstmctl.modeldir.format import ModelDir
from lstmctl.serving.panel_rows import unknown_series
from lstmctl.serving.rows import check_times
from lstmctl.spec import Spec
from lstmctl.training.result import Progress
from lstmctl.workflows.member_tuning import fine_tuned, fit_members, save_members
from lstmctl.workflows.modelfiles import (
    member_networks,
    raw_rows,
    time_info,
)

__all__ = ["fine_tune_panel", "panel_preprocess_state", "skipped_by_run"]

log = logging.getLogger("lstmctl")


def skipped_by_run(spec: Spec) -> dict[str, str]:
    """The series ``run`` leaves out of ``spec``'s panel (``data.short_series: skip``:
    too short for its test and validation parts), and why; warned of as run warns."""
    return fit_panel(spec)[2]


def panel_preprocess_state(spec: Spec, data: Prepared) -> tuple[dict[str, Any], int]:
    """``preprocess.json`` of a panel fitted on ``spec`` (as ``data`` was prepared), and the
    number of rows trained on.

    The series are fitted again here from the same file and spec: preparation
    is deterministic, so the pipelines are those ``data``'s windows came from
    (their input names are checked to agree). The saved ``skipped`` are the
    series ``spec`` leaves out (``data.left_out``) and those this fit skipped.
    """
    _, kept, skipped, static = fit_panel(spec)
    skipped = {**spec.data.left_out, **skipped}
    panel = PanelPipelines.from_fitted(
        kept,
        static,
        spec.data,
        data.input_names,
        embedding=spec.model.series_embedding is not None,
        skipped=skipped,
    )
    if data.panel is not None and [s.id for s in panel.series] != data.panel.ids:
        raise RuntimeError("internal: the panel's series changed between two preparations")
    state = panel.state()
    state["time"] = time_info(spec, list(kept[0].rows.labels))
    state["states"] = None
    return state, sum(len(fs.rows.frame) for fs in kept)


def fine_tune_panel(
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
    """Train every saved member of a panel on, from its own weights, on the combined rows
    (``spec.data.path``: the saved table then the new rows), and save them at ``target``.

    Each series keeps its fitted pipeline; ``fine-tune`` trains on the windows
    with a new row among their targets (of every series given new rows),
    ``fine-tune-all`` on every window of every series.
    """
    old = md.preprocess
    try:
        panel = PanelPipelines.from_state(old, source=str(spec.data.path))
    except (KeyError, TypeError, ValueError, AttributeError, DataError) as e:
        raise ModelDirError(
            f"expected the fitted preprocessing of a panel, found a damaged entry ({e})",
            where=str(md.path / "preprocess.json"),
        ) from None
    moved, X, y = _panel_windows(panel, spec, scheme, dict(old["time"]))
    data = _windows_only(panel, spec, X, y)
    fits, changes = fit_members(md, spec, data, X, y, epochs, progress)
    log.info(
        "%s: %d windows of %d series, %d epochs, %d member(s)",
        scheme,
        len(X),
        moved,
        epochs,
        len(fits),
    )
    state = {**panel.state(), "time": old["time"], "states": None}
    networks = member_networks(spec, data, None, None, 0, [f.weights for f in fits])
    rows = sum(s.rows for s in panel.series)
    tuned = fine_tuned(scheme, epochs, len(X), fits, changes, rows, series_with_new_rows=moved)
    return save_members(
        md, spec, saved_spec, target, networks, state, raw_rows(spec), tuned, lineage, force, onnx
    )


def _panel_windows(
    panel: PanelPipelines, spec: Spec, scheme: str, info: dict[str, Any]
) -> tuple[int, np.ndarray, np.ndarray]:
    """The windows ``scheme`` trains on, pooled over the series; each series' saved state
    (its rows and last observations) moved on to the end of its new rows. Returns how
    many series had new rows, and the windows."""
    source = str(spec.data.path)
    table = load_long(spec.data)
    h = panel.first.horizon
    Xs, ys, moved = [], [], 0
    for rows in split_series(table, spec.data):
        s = panel.by_id.get(rows.id)
        if s is None and rows.id in panel.skipped:  # left out in training: left out here
            log.warning("update: series %r left out, as in training", rows.id)
            continue
        if s is None:
            line = int(rows.frame.index[0])
            col = (spec.data.series or ["series"])[0]
            raise unknown_series(
                rows.id, [v.id for v in panel.series], f"{source}: column {col}, line {line}"
            )
        frame, labels, times = _continued(s, rows, spec, info)
        n_old, n = s.rows, len(frame)
        moved += n > n_old
        t = panel.inputs(s, frame, times)
        back = np.arange(-s.pipeline.lookback + 1, 1)
        origins = np.arange(s.pipeline.context - 1, n - h)
        if scheme == "fine-tune":  # windows with a new row among their targets
            origins = origins[origins + h >= n_old]
        X = t.inputs[origins[:, None] + back]
        y = t.targets[origins[:, None] + np.arange(1, h + 1)]
        ok = ~(np.isnan(X).any(axis=(1, 2)) | np.isnan(y).any(axis=(1, 2)))
        Xs.append(X[ok])
        ys.append(y[ok])
        context = s.pipeline.context
        s.rows = n
        s.tail = frame[list(s.tail.columns)].iloc[-context:].reset_index(drop=True)
        s.tail_labels = labels[-context:]
    X, y = np.concatenate(Xs).astype(np.float32), np.concatenate(ys).astype(np.float32)
    if not len(X):
        raise DataError(
            "expected at least one complete window with new targets, found none in the new rows",
            where="--data",
        )
    return moved, X, y


def _continued(
    s: SeriesState, rows: SeriesRows, spec: Spec, info: dict[str, Any]
) -> tuple[pd.DataFrame, list[str], pd.DatetimeIndex | None]:
    """Series ``s``'s saved rows then its new ones (cleaned), their labels and times; the
    new rows must follow the saved end, one period at a time (as ``predict --input``)."""
    p = s.pipeline
    n_old = s.rows
    new_labels = rows.labels[n_old:]
    if rows.labels[n_old - len(s.tail_labels) : n_old] != s.tail_labels:
        # A new row sorted into the saved rows: it does not continue the series.
        first = int(np.argmax(rows.frame.index.to_numpy() > _last_saved_line(rows, n_old)))
        raise DataError(
            f"series {s.id!r}: expected new rows that continue the saved series after "
            f"{s.tail_labels[-1]!r}, found {rows.labels[first]!r}",
            where=f"{spec.data.path}: line {int(rows.frame.index[first])}",
        )
    if new_labels:
        new = pd.DataFrame(
            {"__label__": new_labels, "__line__": rows.frame.index[n_old:].to_numpy()}
        )
        cols = [spec.data.time] if isinstance(spec.data.time, str) else list(spec.data.time or [])
        try:
            check_times(new, True, s.tail_labels, cols, info, p.missing, source=str(spec.data.path))
        except DataError as e:
            raise DataError(f"series {s.id!r}: {e.message}", e.where) from None
    frame = p.clean(rows.frame[[*p.targets, *p.features]], str(spec.data.path))
    at = rows.frame.index.get_indexer(frame.index)
    labels = [rows.labels[i] for i in at]
    times = pd.DatetimeIndex(rows.times.iloc[at]) if spec.data.calendar else None
    return frame.reset_index(drop=True), labels, times


def _last_saved_line(rows: SeriesRows, n_old: int) -> int:
    """The last line of the saved rows: the combined file has them first, so the
    ``n_old``-th smallest line of the series."""
    return int(np.sort(rows.frame.index.to_numpy())[n_old - 1])


def _windows_only(panel: PanelPipelines, spec: Spec, X: np.ndarray, y: np.ndarray) -> Prepared:
    """The training windows as prepared data (no validation or test part), shaped as the
    panel's model (its series embedding included)."""
    p = panel.first
    empty = np.zeros((0, p.horizon, len(p.targets)))
    size = spec.model.series_embedding
    return Prepared(
        X_train=X,
        y_train=y,
        X_val=X[:0],
        y_val=y[:0],
        X_test=X[:0],
        y_test=y[:0],
        actual_test=empty,
        persistence_test=empty,
        inverse=lambda z: np.asarray(z, dtype=np.float64),
        input_names=list(panel.input_names),
        target_names=list(p.targets),
        test_labels=[],
        mask_value=p.mask_value,
        series_embedding=None if size is None else (len(panel.series), int(size)),
    )
