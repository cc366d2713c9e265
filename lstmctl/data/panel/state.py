"""A panel's fitted preprocessing as ``finalize`` saves it and ``predict`` restores it.

:class:`PanelPipelines` holds, for every series a panel model was trained on,
its fitted :class:`~lstmctl.data.pipeline.Pipeline` (missing values,
transforms, its scalers; the shared one-hot encoder and, with ``scale.per:
global``, the shared scalers sit inside each), its static inputs, and the
last observations a forecast starts from. ``state()`` is plain JSON
(``preprocess.json``, never pickle) and ``from_state()`` gives the same
object back; :meth:`PanelPipelines.inputs` builds a series' model inputs with
the same :func:`~lstmctl.data.panel.fitting.lead_inputs` training used, so
serving applies the one preprocessing instead of re-implementing it.

The layout of ``preprocess.json`` for a panel::

    {"format_version": 1, "kind": "panel",
     "series_columns": ["series"], "time": {"columns", "freq", "format"},
     "targets", "known", "calendar", "static", "lookback", "horizon",
     "inputs": [the model's input names], "embedding": true,
     "static_inputs": [names of the static inputs],
     "series": [{"id", "index", "static": {column: value}, "static_inputs": [...],
                 "rows": n, "pipeline": Pipeline.state(),
                 "tail": {"labels": [...], "columns": {column: [...]}}}, ...],
     "skipped": {id: why}, "states": null}

``index`` is the series' position among the trained series: the value of the
``series_index`` input column when the model embeds the series id.

Numpy and pandas only: ``predict`` imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.panel.fitting import FittedSeries, Static, lead_inputs
from lstmctl.data.pipeline import Pipeline

__all__ = ["PanelPipelines", "SeriesState"]

FORMAT_VERSION = 1


def _json(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return float(v)


@dataclass
class SeriesState:
    """One series of a saved panel: its pipeline, static inputs and last observations."""

    id: str
    index: int
    pipeline: Pipeline
    static: dict[str, Any]
    static_inputs: np.ndarray
    rows: int
    # The last observations (targets, features and known columns, the data's units).
    tail: pd.DataFrame
    tail_labels: list[str]


class PanelPipelines:
    """Every series' fitted pipeline and what their inputs share (see the module)."""

    def __init__(
        self,
        series: list[SeriesState],
        series_columns: Sequence[str],
        known: Sequence[str],
        calendar: Sequence[str],
        static_names: Sequence[str],
        input_names: Sequence[str],
        embedding: bool,
        skipped: Mapping[str, str] | None = None,
    ) -> None:
        self.series = series
        self.series_columns = list(series_columns)
        self.known = list(known)
        self.calendar = list(calendar)
        self.static_names = list(static_names)
        self.input_names = list(input_names)
        self.embedding = embedding
        self.skipped = dict(skipped or {})
        self.by_id = {s.id: s for s in series}

    @property
    def first(self) -> Pipeline:
        return self.series[0].pipeline

    @property
    def context(self) -> int:
        """Rows one window needs, in every series (the same spec fitted each pipeline)."""
        return max(s.pipeline.context for s in self.series)

    @classmethod
    def from_fitted(
        cls,
        kept: Sequence[FittedSeries],
        static: Static,
        data: Any,
        input_names: Sequence[str],
        embedding: bool,
        skipped: Mapping[str, str] | None = None,
    ) -> PanelPipelines:
        """The fitted series of a panel (``fit_panel``), each keeping its last rows."""
        out = []
        for i, fs in enumerate(kept):
            p = fs.pipeline
            tail = fs.rows.frame.iloc[-p.context :][[*p.targets, *p.features]]
            first = fs.rows.frame.iloc[0]
            out.append(
                SeriesState(
                    id=fs.rows.id,
                    index=i,
                    pipeline=p,
                    static={c: _json(first[c]) for c in data.static},
                    static_inputs=static.row(fs.rows) if static.names_ else np.zeros(0),
                    rows=len(fs.rows.frame),
                    tail=tail.reset_index(drop=True),
                    tail_labels=list(fs.rows.labels[-p.context :]),
                )
            )
        return cls(
            out,
            data.series or [],
            data.known,
            data.calendar,
            static.names_,
            input_names,
            embedding,
            skipped,
        )

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """Plain JSON-able values: a panel's ``preprocess.json`` (without ``time``)."""
        p = self.first
        return {
            "format_version": FORMAT_VERSION,
            "kind": "panel",
            "series_columns": self.series_columns,
            "targets": list(p.targets),
            "known": self.known,
            "calendar": self.calendar,
            "static": list(self.series[0].static),
            "lookback": p.lookback,
            "horizon": p.horizon,
            "inputs": self.input_names,
            "embedding": self.embedding,
            "static_inputs": self.static_names,
            "series": [_series_state(s) for s in self.series],
            "skipped": self.skipped,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], source: str = "data") -> PanelPipelines:
        """The panel ``state()`` saved (KeyError, TypeError, ValueError or DataError for a
        damaged one)."""
        series = []
        for entry in state["series"]:
            sid = str(entry["id"])
            p = Pipeline.from_state(entry["pipeline"], source=f"{source}: series {sid!r}")
            tail = entry["tail"]
            frame = pd.DataFrame(index=pd.RangeIndex(len(tail["labels"])))
            for col in [*p.targets, *p.features]:
                values = tail["columns"][col]
                if col in p.categorical:
                    frame[col] = pd.Series(
                        [np.nan if v is None else str(v) for v in values], dtype=object
                    )
                else:
                    frame[col] = np.array(
                        [np.nan if v is None else v for v in values], dtype=np.float64
                    )
            series.append(
                SeriesState(
                    id=sid,
                    index=int(entry["index"]),
                    pipeline=p,
                    static=dict(entry.get("static") or {}),
                    static_inputs=np.asarray(entry["static_inputs"], dtype=np.float64),
                    rows=int(entry["rows"]),
                    tail=frame,
                    tail_labels=[str(v) for v in tail["labels"]],
                )
            )
        if not series:
            raise ValueError("no series")
        return cls(
            series,
            [str(c) for c in state["series_columns"]],
            [str(c) for c in state["known"]],
            [str(c) for c in state["calendar"]],
            [str(c) for c in state["static_inputs"]],
            [str(c) for c in state["inputs"]],
            bool(state["embedding"]),
            {str(k): str(v) for k, v in (state.get("skipped") or {}).items()},
        )

    # ------------------------------------------------------------------ inputs

    def inputs(self, s: SeriesState, frame: pd.DataFrame, times: pd.DatetimeIndex | None) -> Any:
        """Series ``s``'s rows ``frame`` (cleaned; times ``times``) in model space: the
        :class:`~lstmctl.data.pipeline.Transformed` of its pipeline, whose ``inputs`` are
        the model's whole input rows (leads, static inputs and the series index added)."""
        p = s.pipeline
        t = p.transform(frame)
        inputs, _ = lead_inputs(
            t.inputs,
            list(p.input_names_),
            self.known,
            self.calendar,
            times,
            p.horizon,
            (s.static_inputs, self.static_names),
        )
        if self.embedding:
            inputs = np.hstack([inputs, np.full((len(inputs), 1), float(s.index))])
        t.inputs = inputs
        return t


def _series_state(s: SeriesState) -> dict[str, Any]:
    return {
        "id": s.id,
        "index": s.index,
        "static": s.static,
        "static_inputs": [float(v) for v in s.static_inputs],
        "rows": s.rows,
        "pipeline": s.pipeline.state(),
        "tail": {
            "labels": list(s.tail_labels),
            "columns": {c: [_json(v) for v in s.tail[c].tolist()] for c in s.tail.columns},
        },
    }
