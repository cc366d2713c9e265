"""The fitted preprocessing of a panel: one :class:`Pipeline` per series, some parts shared.

Each series gets its own :class:`~lstmctl.data.pipeline.Pipeline` (missing
values, transforms such as differencing, scalers), fitted on that series'
training rows only: transforms never reach from one series into another, and
with ``data.scale.per: series`` neither do the scalers. What must mean the same
in every series is then shared:

* the one-hot encoder of categorical features is fitted on the training rows
  of all series, so a category has one column everywhere;
* with ``data.scale.per: global`` one target scaler and one feature scaler are
  fitted on the (transformed) training rows of all series and replace the
  series' own.

Beside the pipeline's inputs, :func:`panel_inputs` adds what a panel brings:

* **known covariates and calendar features, with leads**: each input step
  carries their values at that step and at each of the ``horizon`` steps
  after it (columns ``promo@+0 .. promo@+H``). At a window's last step these
  are exactly the values at the forecast steps, which a model may use because
  they are known in advance. The leads are plain columns of the rows, so
  windows stay ordinary row windows (and can later be gathered by index).
* **static columns**: numeric ones scaled (min-max or standard over the
  series), categorical ones one-hot, repeated on every row of the series.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lstmctl.data.calendar import calendar_features
from lstmctl.data.encoding import OneHot
from lstmctl.data.panel.table import SeriesRows
from lstmctl.data.pipeline import Pipeline, Transformed
from lstmctl.data.scalers import MinMaxScaler, NoScaler, Scaler, StandardScaler
from lstmctl.data.splits import RowSplit

if TYPE_CHECKING:
    from lstmctl.spec import DataSpec

log = logging.getLogger("lstmctl")

__all__ = [
    "FittedSeries",
    "Static",
    "fit_pipelines",
    "lead_inputs",
    "panel_inputs",
    "series_pipeline",
]


@dataclass
class FittedSeries:
    """One series, cleaned and split, with its pipeline (fitted by :func:`fit_pipelines`)."""

    rows: SeriesRows
    split: RowSplit
    pipeline: Pipeline
    # Targets observed in the file (False: filled in by the missing-value strategy).
    observed: np.ndarray


def series_pipeline(data: DataSpec, source: str) -> Pipeline:
    """The (unfitted) pipeline of one series: targets, features and known covariates
    (the static columns are the panel's, encoded once for every series)."""
    pipeline = Pipeline.from_spec(
        data,
        source=source,
        features=[*data.features, *data.known],
        categorical=[c for c in data.categorical if c in data.features],
    )
    pipeline.known = list(data.known)
    return pipeline


def fit_pipelines(kept: Sequence[FittedSeries], data: DataSpec) -> None:
    """Fit every series' pipeline on its training rows, then share the encoder (and,
    with ``scale.per: global``, the scalers) across the series.

    A column constant over one series' training rows (a 0/1 flag never set there, a
    store that sold nothing) is ordinary in a panel: its scaler maps it to a constant
    (standard: 0, min-max: the range's low end), logged, not refused. With
    ``per: global`` only the global scalers' fit decides (a column constant over
    every series is refused under standard scaling, as for one series). A single
    series prepared as a panel of one (no ``data.series``) keeps the one-series rule.
    """
    panel = bool(data.series)
    for fs in kept:
        fs.pipeline.fit(_train(fs), check_spread=not panel)
    first = kept[0].pipeline
    if panel and data.scale.per != "global":
        _log_constant(kept, data)
    encoder = _shared_encoder(kept)
    if data.scale.per == "global":
        targets = np.vstack(
            [
                fs.pipeline.target_stages(_train(fs)[fs.pipeline.targets].to_numpy(np.float64))[-1]
                for fs in kept
            ]
        )
        numeric = first.numeric_features
        feats = np.vstack([_train(fs)[numeric].to_numpy(np.float64) for fs in kept])
        if data.scale.kind == "standard":
            first.check_spread(targets, feats, str(data.path))
        target_scaler = _scaler(data, first.targets).fit(targets)
        feature_scaler = _scaler(data, numeric).fit(feats)
    for fs in kept:
        p = fs.pipeline
        p.encoder_ = encoder
        p.input_names_ = [*p.numeric, *encoder.names_]
        if data.scale.per == "global":
            p.target_scaler_, p.feature_scaler_ = target_scaler, feature_scaler


def _log_constant(kept: Sequence[FittedSeries], data: DataSpec) -> None:
    """One info line per column constant over the training rows of some series."""
    kind = data.scale.kind
    if kind == "none":
        return
    to = "0" if kind == "standard" else f"{data.scale.range[0]:g} (the range's low end)"
    constant: dict[str, list[str]] = {}
    for fs in kept:
        p = fs.pipeline
        train = _train(fs)
        values = np.hstack(
            [
                p.target_stages(train[p.targets].to_numpy(np.float64))[-1],
                train[p.numeric_features].to_numpy(np.float64),
            ]
        )
        for j, name in enumerate(p.numeric):
            col = values[:, j][~np.isnan(values[:, j])]
            if col.size and (col == col[0]).all():
                constant.setdefault(name, []).append(fs.rows.id)
    for name, ids in constant.items():
        shown = ", ".join(repr(i) for i in ids[:3]) + (
            f" and {len(ids) - 3} more" if len(ids) > 3 else ""
        )
        log.info(
            "column %s is constant over the training rows of %d series (%s): scaled to %s "
            "there (data.scale.per: series)",
            name,
            len(ids),
            shown,
            to,
        )


def _train(fs: FittedSeries) -> pd.DataFrame:
    """The series' training rows (what its pipeline is fitted on)."""
    return fs.rows.frame.iloc[: fs.split.n_fit_]


def _shared_encoder(kept: Sequence[FittedSeries]) -> OneHot:
    """The one-hot encoder fitted on the training rows of all series.

    It reads only the categorical columns: without any, the training rows of
    all series are not copied into one frame.
    """
    first = kept[0].pipeline
    encoder = OneHot(
        first.categorical, missing_as_nan=first.mask_value is not None, source=first.source
    )
    if not first.categorical:
        return encoder.fit(_train(kept[0]))
    return encoder.fit(pd.concat([_train(fs)[first.categorical] for fs in kept]))


def _scaler(data: DataSpec, names: Sequence[str]) -> Scaler:
    kind = data.scale.kind
    if kind == "minmax":
        return MinMaxScaler(tuple(data.scale.range), names=names, source=str(data.path))
    if kind == "standard":
        return StandardScaler(names=names, source=str(data.path))
    return NoScaler(names=names, source=str(data.path))


class Static:
    """The static columns as model inputs: numeric ones scaled, categorical ones one-hot.

    Fitted on one row per series (every kept series: a static value is known
    for each, its training part or not).
    """

    def __init__(self, data: DataSpec) -> None:
        self.data = data
        self.numeric = [c for c in data.static if c not in data.categorical]
        self.categorical = [c for c in data.static if c in data.categorical]

    def fit(self, kept: Sequence[FittedSeries]) -> Static:
        firsts = pd.concat([fs.rows.frame.iloc[:1] for fs in kept])
        self.scaler_ = _scaler(self.data, self.numeric).fit(
            firsts[self.numeric].to_numpy(np.float64).reshape(len(firsts), -1)
        )
        self.encoder_ = OneHot(self.categorical, source=str(self.data.path)).fit(firsts)
        self.names_ = [*self.numeric, *self.encoder_.names_]
        return self

    def row(self, rows: SeriesRows) -> np.ndarray:
        """The series' static inputs, one row ``(n_static_inputs,)``."""
        first = rows.frame.iloc[:1]
        num = self.scaler_.transform(first[self.numeric].to_numpy(np.float64).reshape(1, -1))
        return np.hstack([num.reshape(1, -1), self.encoder_.transform(first)])[0]


def panel_inputs(fs: FittedSeries, data: DataSpec, static: Static) -> tuple[Transformed, list[str]]:
    """The series' rows in model space: the pipeline's inputs, then the leads of known
    and calendar columns, then the static columns; and the names of the inputs."""
    p = fs.pipeline
    t = p.transform(fs.rows.frame)
    times = pd.DatetimeIndex(fs.rows.times) if data.calendar else None
    row = static.row(fs.rows) if static.names_ else np.zeros(0)
    inputs, names = lead_inputs(
        t.inputs,
        list(p.input_names_),
        data.known,
        data.calendar,
        times,
        data.window.horizon,
        (row, static.names_),
    )
    return Transformed(inputs, t.targets, t.stages), names


def lead_inputs(
    inputs: np.ndarray,
    names: list[str],
    known: Sequence[str],
    calendar: Sequence[str],
    times: pd.DatetimeIndex | None,
    horizon: int,
    static: tuple[np.ndarray, Sequence[str]],
) -> tuple[np.ndarray, list[str]]:
    """A pipeline's inputs (``names``) with the leads of the ``known`` columns and of the
    ``calendar`` features of ``times``, then the series' static inputs (``static``: their
    values and names); and the names.

    Training (:func:`panel_inputs`) and ``predict`` (:mod:`lstmctl.data.panel.state`)
    both build a panel's inputs here, so the two cannot drift apart.
    """
    blocks = [inputs]
    names = list(names)
    if known:
        at = [names.index(k) for k in known]
        values = inputs[:, at]
        # The step's own value is already an input (known@+0 is the column itself).
        for k in range(1, horizon + 1):
            blocks.append(_lead(values, k))
            names += [f"{c}@+{k}" for c in known]
    if calendar:
        if times is None:
            raise ValueError("lead_inputs: calendar features need the rows' times")
        cal, cal_names = calendar_features(times, calendar)
        for k in range(horizon + 1):
            blocks.append(_lead(cal, k))
            names += [f"{c}@+{k}" for c in cal_names]
    static_row, static_names = static
    if len(static_names):
        blocks.append(np.repeat(np.asarray(static_row)[None, :], len(inputs), axis=0))
        names += list(static_names)
    out = np.hstack(blocks) if len(blocks) > 1 else inputs
    return out, names


def _lead(values: np.ndarray, k: int) -> np.ndarray:
    """``values`` moved ``k`` rows up: row t holds row t + k (NaN past the end)."""
    if k == 0:
        return values
    out = np.full_like(values, np.nan)
    if k < len(values):
        out[:-k] = values[k:]
    return out
