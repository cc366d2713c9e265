"""``prepare_panel(spec)``: many series in one long table, one global model.

Order, per series (rows sorted by time, see :mod:`~lstmctl.data.panel.table`;
skipped time steps inserted as empty rows or refused, see
:mod:`~lstmctl.data.panel.gaps`): handle missing values -> split its own rows
(``split.test`` of *each* series: its last N rows, or that fraction of its
rows; validation likewise) -> fit its pipeline on its training rows (shared
parts: :mod:`~lstmctl.data.panel.fitting`) -> cut its windows. Windows never
cross from one series into another: each series is windowed alone. The training
windows of all series are pooled (one model learns from all of them);
validation and test windows are grouped by series, and
:class:`~lstmctl.data.prepared.Panel` says which series each is from, so
scoring can be per series in original units (walk-forward inverse with that
series' pipeline) and persistence is each series' own last value.

Windows are not copied: every series' model-space rows are stacked into one
array (inputs, and targets beside them), and each part's windows are start
indices into it (:class:`~lstmctl.data.window_index.IndexedWindows`), so the
prepared data takes about the rows' memory, not ``lookback`` times it. The
compiled trainer gathers each batch's windows from the rows on the device;
what needs real arrays materializes them on demand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.calendar import CALENDAR_FEATURES, calendar_features
from lstmctl.data.loading import load_long
from lstmctl.data.panel.fitting import (
    FittedSeries,
    Static,
    fit_pipelines,
    panel_inputs,
    series_pipeline,
)
from lstmctl.data.panel.gaps import fill_gaps
from lstmctl.data.panel.table import SeriesRows, split_series
from lstmctl.data.pipeline import Transformed
from lstmctl.data.prepared import Panel, Prepared, Series
from lstmctl.data.reading import release_arrow_memory
from lstmctl.data.splits import RowSplit, shortfall
from lstmctl.data.window_index import IndexedWindows, held_nbytes
from lstmctl.data.windows import Windower
from lstmctl.errors import DataError, SpecError
from lstmctl.memory import check_fits, human
from lstmctl.spec import Spec

__all__ = ["fit_panel", "prepare_panel"]

log = logging.getLogger("lstmctl")
PARTS = ("train", "val", "test")
_ONE = "with data.known or data.calendar its windows are prepared as a panel's (of one series)"


def prepare_panel(spec: Spec) -> Prepared:
    """Everything the models and the scoring need from a long table of many series."""
    data = spec.data
    source = str(data.path)
    raw, kept, skipped, static = fit_panel(spec)
    ids = [fs.rows.id for fs in kept]
    mask_value = kept[0].pipeline.mask_value
    cut, rows, targets = _cut_all(kept, spec, static)
    names = cut[0].names
    _check_fits(cut, rows, targets)
    X, y = _index(cut, rows, targets, data.window.lookback, data.window.horizon)
    which = {}
    for part in PARTS:
        which[part] = np.concatenate(
            [np.full(len(c.origins[part]), i, dtype=np.int64) for i, c in enumerate(cut)]
        )
    if not len(X["train"]):
        raise DataError("expected at least one complete training window, found none", where=source)
    _log_memory(raw, X, y)
    panel = Panel(
        ids=ids,
        series=[c.series for c in cut],
        test_series=which["test"],
        val_series=which["val"],
        skipped=skipped,
    )
    state: dict[str, Any] = {
        "series": {"count": len(ids), "ids": panel.ids, "skipped": skipped},
        "scale_per": data.scale.per or "series",
        "inputs": names,
        "windows": {k: int(len(v)) for k, v in X.items()},
        "test_windows_imputed": sum(c.imputed for c in cut),
    }
    return Prepared(
        X_train=X["train"],
        y_train=y["train"],
        X_val=X["val"],
        y_val=y["val"],
        X_test=X["test"],
        y_test=y["test"],
        actual_test=np.concatenate([c.actual["test"] for c in cut]),
        persistence_test=np.concatenate([c.persistence for c in cut]),
        inverse=PanelInverse([c.inverse["test"] for c in cut]),
        input_names=names,
        target_names=list(data.target),
        test_labels=[v for c in cut for v in c.test_labels],
        actual_val=np.concatenate([c.actual["val"] for c in cut]),
        inverse_val=PanelInverse([c.inverse["val"] for c in cut]),
        mask_value=mask_value,
        state=state,
        panel=panel,
        series_embedding=None
        if spec.model.series_embedding is None
        else (len(ids), int(spec.model.series_embedding)),
    )


def fit_panel(spec: Spec) -> tuple[int, list[FittedSeries], dict[str, str], Static]:
    """Each series of the table cleaned, split and its pipeline fitted, the static
    inputs fitted: what :func:`prepare_panel` windows and ``finalize`` saves
    (:class:`~lstmctl.data.panel.state.PanelPipelines`); first, the bytes the table's
    values took as read (what the windows' memory is logged beside)."""
    _check_spec(spec)
    table = load_long(spec.data)
    raw = int(table.frame.memory_usage(deep=True).sum())
    release_arrow_memory()  # the file's text, as read, is gone
    series = split_series(table, spec.data)
    del table  # every series has its own rows now: the table's are freed
    series = fill_gaps(series, spec.data)
    kept, skipped = _clean_and_split(series, spec)
    fit_pipelines(kept, spec.data)
    static = Static(spec.data).fit(kept)
    return raw, kept, skipped, static


def _check_spec(spec: Spec) -> None:
    """What a panel cannot have (yet), before the table is read."""
    data = spec.data
    # One series with known or calendar inputs is prepared as a panel of one: the same
    # limits, said of what the spec has.
    what = "a panel's windows come from many series" if data.series else _ONE
    if spec.model.stateful:
        raise SpecError(
            "a stateful model carries its state from one window to the next, but "
            f"{what}: expected stateful: false, found true",
            where="model.stateful",
        )
    if spec.evaluate.update is not None:
        whose = "a panel's" if data.series else "one with data.known or data.calendar"
        raise SpecError(
            f"the update experiment walks one series forward; {whose} is not supported "
            "yet: expected evaluate.update: null",
            where="evaluate.update",
        )
    if spec.model.series_embedding is not None and spec.model.arch == "cnn_lstm":
        raise SpecError(
            "cnn_lstm reads each step as a frame and has no series embedding: expected "
            "model.series_embedding: null or another architecture",
            where="model.series_embedding",
        )
    unknown = [c for c in data.calendar if c not in CALENDAR_FEATURES]
    if unknown:
        try:
            calendar_features(pd.DatetimeIndex([]), data.calendar)
        except ValueError as e:
            raise SpecError(str(e), where="data.calendar") from None


def _clean_and_split(
    series: list[SeriesRows], spec: Spec
) -> tuple[list[FittedSeries], dict[str, str]]:
    """Each series cleaned and split; those too short are an error or skipped (listed).

    ``series`` is emptied as it goes: a series' rows as read are freed once cleaned.
    """
    data = spec.data
    source = str(data.path)
    kept: list[FittedSeries] = []
    short: dict[str, str] = {}
    series.reverse()
    while series:
        rows = series.pop()
        named = f"{source}: series {rows.id!r}" if data.series else source
        pipeline = series_pipeline(data, named)
        observed = rows.frame[list(data.target)].notna().all(axis=1)
        frame = pipeline.clean(rows.frame, record=True)
        pipeline.name_rows(source, frame.index.to_numpy())
        at = rows.frame.index.get_indexer(frame.index)
        if data.calendar and not pd.api.types.is_datetime64_any_dtype(rows.times):
            raise DataError(
                "data.calendar needs dates in the time column, found numbers or labels "
                f"like {rows.labels[0]!r}",
                where=f"{source}: column {data.time}",
            )
        if len(at) == len(rows.frame):  # no row dropped: the times and labels are the same
            cleaned = SeriesRows(rows.id, frame, rows.times, rows.labels)
        else:
            cleaned = SeriesRows(rows.id, frame, rows.times.iloc[at], [rows.labels[i] for i in at])
        window = data.window
        why = shortfall(
            len(frame),
            data.split.test,
            data.split.validation,
            window.lookback,
            window.horizon,
            pipeline.lags,
        )
        if why:
            short[rows.id] = why
            continue
        split = RowSplit(data.split.test, data.split.validation).fit(len(frame))
        kept.append(FittedSeries(cleaned, split, pipeline, observed.to_numpy()[at]))
    if short and (data.short_series == "error" or not kept):
        sid, why = next(iter(short.items()))
        more = f", and {len(short) - 1} more series are too short" if len(short) > 1 else ""
        shorten = "shorten data.window.lookback or data.window.horizon or data.split"
        if kept:
            hint = f"{shorten}, or set data.short_series: skip to leave such series out"
        elif data.short_series == "skip":
            hint = f"data.short_series: skip would leave no series: {shorten}"
        else:
            hint = f"no series is long enough: {shorten}"
        raise DataError(
            f"series {sid!r} is too short: {why}{more}; {hint}",
            where=f"{source}: column {', '.join(data.series)}" if data.series else source,
        )
    for sid, why in short.items():
        log.warning("warning: series %r left out (data.short_series: skip): %s", sid, why)
    return kept, short


@dataclass
class _Cut:
    """One series' windows by part, and what scoring needs of its test part."""

    names: list[str]
    # The series' rows (in model space, in the rows of all series: see _cut_all).
    n_rows: int
    # The origin (last input row) of each window of each part.
    origins: dict[str, np.ndarray]
    actual: dict[str, np.ndarray]
    inverse: dict[str, _SeriesInverse]
    persistence: np.ndarray
    test_labels: list[str]
    series: Series
    imputed: int


def _cut_all(
    kept: list[FittedSeries], spec: Spec, static: Static
) -> tuple[list[_Cut], np.ndarray, np.ndarray]:
    """Every series' :func:`_cut`, in order, and the model-space rows of all series
    stacked (inputs, targets; float32), what the windows are gathered from.

    Each series' rows are written into the stack as it is cut, not kept apart
    and then copied. ``kept`` is emptied as it goes: a series' cleaned frame is
    freed once its rows are in model space (its pipeline and labels live on in
    the cut).
    """
    total = sum(len(fs.rows.frame) for fs in kept)
    out: list[_Cut] = []
    rows = targets = np.zeros((0, 0), dtype=np.float32)
    start = 0
    kept.reverse()
    while kept:
        cut, t = _cut(kept.pop(), spec, static, len(out))
        if not out:
            rows = np.empty((total, t.inputs.shape[1]), dtype=np.float32)
            targets = np.empty((total, t.targets.shape[1]), dtype=np.float32)
        rows[start : start + cut.n_rows] = t.inputs
        targets[start : start + cut.n_rows] = t.targets
        start += cut.n_rows
        out.append(cut)
    return out, rows, targets


def _cut(fs: FittedSeries, spec: Spec, static: Static, index: int) -> tuple[_Cut, Transformed]:
    """Window the ``index``-th series alone and assign each window to train, validation
    or test; and its rows in model space."""
    data = spec.data
    horizon = data.window.horizon
    t, names = panel_inputs(fs, data, static)
    if spec.model.series_embedding is not None:  # the model embeds the last column
        t.inputs = np.hstack([t.inputs, np.full((len(t.inputs), 1), float(index))])
        names = [*names, "series_index"]
    mask = fs.pipeline.mask_value is not None
    windower = Windower(data.window.lookback, horizon, allow_missing_inputs=mask).fit()
    origins = windower.origins(t.inputs, t.targets)
    parts = fs.split.assign(origins, horizon)
    steps = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    # Filled-in targets are guesses: the test part is scored on observed values only.
    imputed = ~fs.observed[np.minimum(steps, len(fs.observed) - 1)].all(axis=1)
    n_imputed = int((parts["test"] & imputed).sum())
    parts["test"] &= ~imputed
    original = t.stages[0]
    at = {k: origins[parts[k]] for k in ("val", "test")}
    actual = {k: original[at[k][:, None] + np.arange(1, horizon + 1)[None, :]] for k in at}
    last_seen = pd.DataFrame(original).ffill().to_numpy()
    persistence = np.repeat(last_seen[at["test"]][:, None, :], horizon, axis=1)
    cut = _Cut(
        names=names,
        n_rows=len(t.inputs),
        origins={k: origins[parts[k]] for k in PARTS},
        actual={
            k: np.asarray(v, dtype=np.float64).reshape(-1, horizon, original.shape[1])
            for k, v in actual.items()
        },
        inverse={k: _SeriesInverse(fs.pipeline, t.stages, at[k]) for k in at},
        persistence=np.asarray(persistence, dtype=np.float64),
        test_labels=[fs.rows.labels[o + 1] for o in at["test"]],
        series=Series(
            values=np.asarray(original, dtype=np.float64),
            n_insample=fs.split.n_train_,
            test_origins=at["test"],
            labels=fs.rows.labels,
        ),
        imputed=n_imputed,
    )
    return cut, t


def _check_fits(cut: list[_Cut], inputs: np.ndarray, targets: np.ndarray) -> None:
    """SpecError when every series' rows and window indices would not fit in memory."""
    n = sum(len(o) for c in cut for o in c.origins.values())
    rows = len(inputs)
    n_in, n_out = inputs.shape[1], targets.shape[1]
    check_fits(
        4 * rows * (n_in + n_out) + 2 * 8 * n,
        where="data.series",
        what=f"{rows} rows x {n_in} inputs and {n} windows over {len(cut)} series",
    )


def _index(
    cut: list[_Cut], rows: np.ndarray, targets: np.ndarray, lookback: int, horizon: int
) -> tuple[dict[str, IndexedWindows], dict[str, IndexedWindows]]:
    """Every part's windows, series after series, as start indices into the rows of all
    series stacked (inputs and targets): nothing is copied per window.

    A window of origin ``o`` in a series whose rows begin at ``offset`` reads inputs
    from row ``offset + o - lookback + 1`` and targets from row ``offset + o + 1``.
    """
    offsets = np.cumsum([0, *(c.n_rows for c in cut)])[:-1]
    X, y = {}, {}
    for part in PARTS:
        o = np.concatenate(
            [c.origins[part] + off for c, off in zip(cut, offsets, strict=True)]
        ).astype(np.int64)
        X[part] = IndexedWindows(rows, o - lookback + 1, lookback)
        y[part] = IndexedWindows(targets, o + 1, horizon)
    return X, y


def _log_memory(raw: int, X: dict[str, IndexedWindows], y: dict[str, IndexedWindows]) -> None:
    parts = [*X.values(), *y.values()]
    held = held_nbytes(parts)
    copies = sum(a.materialized_nbytes for a in parts)
    log.info(
        "panel: the table takes %s, the windows %s by index (%.1f times; %s as copies)",
        human(raw),
        human(held),
        held / max(raw, 1),
        human(copies),
    )


class _SeriesInverse:
    """One series' model-space forecasts at ``origins`` -> its original units."""

    def __init__(self, pipeline: Any, stages: list[np.ndarray], origins: np.ndarray) -> None:
        self.pipeline, self.stages, self.origins = pipeline, stages, origins

    def __call__(self, pred: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.pipeline.inverse_transform(pred, self.origins, self.stages), dtype=np.float64
        )


class PanelInverse:
    """Pooled model-space forecasts (series after series) -> original units, each series
    inverted by its own pipeline (its scaler, then walk-forward through its transforms)."""

    def __init__(self, parts: list[_SeriesInverse]) -> None:
        self.parts = parts
        self.counts = [len(p.origins) for p in parts]

    def __call__(self, pred: np.ndarray) -> np.ndarray:
        z = np.asarray(pred, dtype=np.float64)
        if z.ndim != 3 or z.shape[0] != sum(self.counts):
            raise ValueError(
                f"expected predictions for the {sum(self.counts)} windows of the panel "
                f"(windows, horizon, targets), found {z.shape}"
            )
        out, start = [], 0
        for part, n in zip(self.parts, self.counts, strict=True):
            out.append(part(z[start : start + n]))
            start += n
        if not out:
            return z
        return np.concatenate(out)
