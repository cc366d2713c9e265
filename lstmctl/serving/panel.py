"""Forecasting from a saved panel: many series, one network, each series its own pipeline.

The questions a single-series model answers (:mod:`lstmctl.serving.forecast`),
asked of every series of a panel (or of those ``--series`` names):

* **K steps ahead** (``horizon=K``): from each series' last observation (the
  saved ones, then any new rows of it), forecasts are fed back as that
  series' next observations until K steps are made. Every series moves in
  step, so each step is one network call for all of them (per member).
* **new rows** (``--input``, long format): every new row of a series is a
  forecast origin, one forecast of the model's horizon each (walk-forward).

Each series' rows go through its own restored pipeline
(:class:`lstmctl.data.panel.state.PanelPipelines`, the one training fitted):
its transforms and scalers, the leads of ``known`` covariates and calendar
features, its static inputs and, with a series embedding, its index. The
leads need the values at the forecast steps: calendar features are derived
from the step times (the training data's frequency), ``known`` covariates
come from ``--future`` rows (:mod:`lstmctl.serving.panel_rows`); a missing
one is an error naming the column, the series and the steps.

The output is long: a ``series`` column first, one block of rows per series,
each block as a single series' forecast (its intervals and members' columns
from the ensemble, when asked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmctl.data.panel.state import PanelPipelines, SeriesState
from lstmctl.errors import DataError, ModelDirError, UsageError
from lstmctl.modeldir.format import ModelDir
from lstmctl.modeldir.members import calibration, member_count
from lstmctl.serving.bands import Bands
from lstmctl.serving.engines import Engine, make_engine
from lstmctl.serving.labels import next_label, step_labels
from lstmctl.serving.panel_rows import future_known, unknown_series
from lstmctl.serving.request import check_request, usable_levels
from lstmctl.serving.rows import check_time_format, check_times, check_values
from lstmctl.serving.table import Forecast, Grid, check_finite, forecast_table

__all__ = ["NO_SERIES", "PanelPredictor", "is_panel"]

# ``--series ''`` (or ","): a usage error, not every series.
NO_SERIES = "expected series ids, comma-separated (A,B), found none"


def is_panel(model_dir: ModelDir) -> bool:
    """Whether the model directory holds a panel (``preprocess.json`` of kind panel)."""
    pre = model_dir.preprocess
    return isinstance(pre, dict) and pre.get("kind") == "panel"


@dataclass
class _Series:
    """One series' rows to forecast from: history (and new rows), model inputs."""

    s: SeriesState
    frame: pd.DataFrame  # the rows, cleaned (targets in the data's units)
    first_new: int  # where the new rows start
    labels: list[str]  # time labels of the rows, then of the future steps
    inputs: np.ndarray  # model inputs of the rows and the future steps
    stages: list[np.ndarray]
    targets: np.ndarray  # the rows' targets (the data's units)


class PanelPredictor:
    """A verified panel model directory (one model, or an ensemble) ready to forecast."""

    def __init__(self, model_dir: ModelDir, engine: str = "auto") -> None:
        self.dir = model_dir
        state = model_dir.preprocess
        where = str(model_dir.path / "preprocess.json")
        try:
            self.panel = PanelPipelines.from_state(state, source="--input")
            self.time_info = dict(state["time"])
            self.time_columns = [str(c) for c in state["time"]["columns"]]
        except (KeyError, TypeError, ValueError, AttributeError, DataError) as e:
            raise ModelDirError(
                f"expected the fitted preprocessing of a panel, found a damaged entry ({e})",
                where=where,
            ) from None
        self.members = member_count(model_dir)
        cal = calibration(model_dir)
        self.bands = None if cal is None else Bands(cal, str(model_dir.path / "intervals.json"))
        self.engine_kind = engine
        self._engines: dict[int, Engine] = {}
        self.engine_name = self._engine(0).name
        self.k = 1  # the steps asked for (predict sets it)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.panel.series]

    def _engine(self, member: int) -> Engine:
        if member not in self._engines:
            engine = make_engine(self.dir, self.engine_kind, member=member)
            if engine.n_states:
                raise ModelDirError(
                    "expected a stateless network for a panel, found one with LSTM state inputs",
                    where=str(self.dir.path),
                )
            self._engines[member] = engine
        return self._engines[member]

    def select(self, series: Sequence[str] | None) -> list[SeriesState]:
        """The series asked for (``--series``), or all of them (None); an unknown id:
        DataError; no id at all (``--series ''``): UsageError."""
        if series is None:
            return list(self.panel.series)
        out = []
        if not any(str(v).strip() for v in series):
            raise UsageError(NO_SERIES, where="--series")
        for sid in dict.fromkeys(str(v).strip() for v in series if str(v).strip()):
            if sid not in self.panel.by_id:
                raise unknown_series(sid, self.ids, "--series", self.panel.skipped)
            out.append(self.panel.by_id[sid])
        return out

    # ------------------------------------------------------------------ public

    def predict(
        self,
        rows: dict[str, pd.DataFrame] | None = None,
        horizon: int | None = None,
        series: Sequence[str] | None = None,
        future: dict[str, pd.DataFrame] | None = None,
        levels: Sequence[float] = (),
        members: bool = False,
        history: bool = True,
    ) -> Forecast:
        """Forecasts of every chosen series: walk-forward at new rows, or ``horizon`` steps
        ahead of each series' last observation."""
        check_request(horizon, rows is not None, history)
        found = usable_levels(levels, self.bands, self.members)
        chosen = self.select(series)
        if future is not None:
            self._check_future_times(future)
        if rows is not None:
            asked = {s.id for s in chosen}
            chosen = [self.panel.by_id[sid] for sid in rows if sid in asked]
            if not chosen:
                raise DataError("expected rows of the series asked for, found none", "--input")
        walk = rows is not None and horizon is None
        h = self.panel.first.horizon
        k = horizon or h
        self.k = h if walk else k
        past = [f for f in self.panel.first.features if f not in self.panel.known]
        if k > h and past:
            raise UsageError(
                f"forecasting {k} steps with a model of horizon {h} feeds forecasts back as "
                f"inputs, but the inputs include past covariates ({', '.join(past)}) whose "
                f"future values are unknown; use --horizon {h} or less",
                where="--horizon",
            )
        ahead = h if walk else -(-k // h) * h  # future steps the leads reach
        items = [
            self._prepare(s, None if rows is None else rows.get(s.id), history, future, ahead)
            for s in chosen
        ]
        grids: list[list[Grid]] = []
        for m in range(self.members):
            engine = self._engine(m)
            grids.append(
                self._walk_forward(engine, items) if walk else self._recursive(engine, items, k)
            )
        return self._table(
            items, grids, found, members, where="--input" if rows else str(self.dir.path)
        )

    # ------------------------------------------------------------------ rows

    def _prepare(
        self,
        s: SeriesState,
        new: pd.DataFrame | None,
        history: bool,
        future: dict[str, pd.DataFrame] | None,
        ahead: int,
    ) -> _Series:
        """Series ``s``'s saved rows then its new ones, cleaned, and their model inputs
        (with the future steps the leads of known and calendar columns reach)."""
        p = s.pipeline
        tail = s.tail.assign(__label__=s.tail_labels, __line__=0)
        if new is not None:
            try:
                check_times(
                    new, history, s.tail_labels, self.time_columns, self.time_info, p.missing
                )
            except DataError as e:
                raise DataError(f"series {s.id!r}: {e.message}", e.where) from None
        context = tail if history else tail.iloc[:0]
        frame = pd.concat([context, tail.iloc[:0] if new is None else new], ignore_index=True)
        frame = p.clean(frame, "--input")
        first_new = int((frame.index < len(context)).sum())
        frame = frame.reset_index(drop=True)
        if len(frame) < p.context:
            raise DataError(
                f"expected at least {p.context} rows of series {s.id!r} (look-back "
                f"{p.lookback}"
                + (f" + differencing lag {p.lags}" if p.lags else "")
                + f"), found {len(frame)}",
                where="--input",
            )
        labels = [str(v) for v in frame["__label__"]]
        # Rows for the steps ahead even without leads: a fed-back step's window reads the
        # inputs that do not depend on the targets (static, series index) from them.
        steps = step_labels(labels[-1], ahead, self.time_info)
        full = pd.concat([frame, self._future_rows(s, frame, steps, future)], ignore_index=True)
        t = self.panel.inputs(s, full, self._times([*labels, *steps]))
        if new is not None:
            check_values(frame, t.inputs[: len(frame)], first_new, p)
        targets = frame[list(p.targets)].to_numpy(np.float64)
        return _Series(s, frame, first_new, [*labels, *steps], t.inputs, t.stages, targets)

    def _check_future_times(self, future: dict[str, pd.DataFrame]) -> None:
        """``--future`` times in the training data's format (when it had a frequency), so a
        row is never missed for being written another way ('03/01/2024')."""
        fmt = self.time_info.get("format")
        if not (fmt and self.time_info.get("freq")):
            return
        where = f"--future: column {', '.join(self.time_columns) or 'time'}"
        for sid, frame in future.items():
            s = self.panel.by_id[sid]
            lines = [int(v) for v in frame["__line__"]]
            try:
                check_time_format(
                    [str(v) for v in frame.index], lines, fmt, s.tail_labels[-1], where
                )
            except DataError as e:
                raise DataError(f"series {sid!r}: {e.message}", e.where) from None

    def _future_rows(
        self,
        s: SeriesState,
        frame: pd.DataFrame,
        steps: list[str],
        future: dict[str, pd.DataFrame] | None,
    ) -> pd.DataFrame:
        """Rows for the future steps: the known covariates given, the rest the last row's
        (no window ends there: only the leads of known and calendar columns read them)."""
        cols = [c for c in frame.columns if not c.startswith("__")]
        rows = pd.DataFrame({c: [frame[c].iloc[-1]] * len(steps) for c in cols})
        if self.panel.known and steps:
            header = [*self.panel.series_columns, *self.time_columns, *self.panel.known]
            note = ""
            if len(steps) > self.k:  # a model of horizon H reads H steps ahead of its origin
                h = s.pipeline.horizon
                note = f" (the model of horizon {h} reads {len(steps)} steps ahead for {self.k})"
            values = future_known(future, s.id, steps, self.panel.known, header, note)
            for j, c in enumerate(self.panel.known):
                rows[c] = values[:, j]
        rows["__label__"] = steps
        rows["__line__"] = 0
        return rows

    def _times(self, labels: list[str]) -> pd.DatetimeIndex | None:
        """The rows' times, for calendar features (None without any)."""
        if not self.panel.calendar:
            return None
        if any(not v for v in labels):
            raise UsageError(
                "calendar features need the time of every forecast step, but the model's "
                "time frequency is unknown",
                where="--horizon",
            )
        fmt = self.time_info.get("format")
        return pd.DatetimeIndex(pd.to_datetime(pd.Series(labels), format=fmt))

    # ------------------------------------------------------------------ forecasts

    def _walk_forward(self, engine: Engine, items: list[_Series]) -> list[Grid]:
        """One member's forecasts at every new row of each series, in one network call."""
        p0 = self.panel.first
        back = np.arange(-p0.lookback + 1, 1)
        origins, windows = [], []
        for it in items:
            o = np.arange(max(it.first_new, it.s.pipeline.context - 1), len(it.frame))
            x = (
                it.inputs[o[:, None] + back]
                if len(o)
                else np.zeros((0, p0.lookback, it.inputs.shape[1]))
            )
            ok = ~np.isnan(x).any(axis=(1, 2))
            origins.append(o[ok])
            windows.append(x[ok])
        X = np.concatenate(windows).astype(np.float32)
        pred = engine(X, [])[0] if len(X) else np.zeros((0, p0.horizon, len(p0.targets)))
        out, start = [], 0
        for it, o in zip(items, origins, strict=True):
            values = it.s.pipeline.inverse_transform(pred[start : start + len(o)], o, it.stages)
            start += len(o)
            steps = range(1, values.shape[1] + 1)
            out.append(
                Grid(
                    origins=[it.labels[int(i)] for i in o],
                    times=[[self._label(it.labels, int(i), h) for h in steps] for i in o],
                    values=np.asarray(values, dtype=np.float64),
                )
            )
        return out

    def _recursive(self, engine: Engine, items: list[_Series], k: int) -> list[Grid]:
        """One member's forecasts ``k`` steps ahead of every series, each fed its own
        forecasts back; every series steps together (one network call a step)."""
        p0 = self.panel.first
        lb, n_t = p0.lookback, len(p0.targets)
        values = [it.targets for it in items]
        made: list[list[np.ndarray]] = [[] for _ in items]
        done = 0
        while done < k:
            windows, stages_all = [], []
            for it, v in zip(items, values, strict=True):
                p = it.s.pipeline
                keep = v[-p.context :]
                stages = p.target_stages(keep)
                scaled = p.target_scaler_.transform(stages[-1])
                o = len(v) - 1  # the origin's row in the series' inputs
                windows.append(np.hstack([scaled[-lb:], it.inputs[o - lb + 1 : o + 1, n_t:]]))
                stages_all.append(stages)
            X = np.stack(windows).astype(np.float32)
            bad = np.isnan(X).any(axis=(1, 2))
            if bad.any():
                sid = items[int(np.argmax(bad))].s.id
                raise DataError(
                    f"expected the last window of series {sid!r} to be complete, found missing "
                    "values in it",
                    where="--input",
                )
            pred = engine(X, [])[0]
            take = min(p0.horizon, k - done)
            for i, it in enumerate(items):
                p = it.s.pipeline
                origin = np.array([len(stages_all[i][0]) - 1])
                step = p.inverse_transform(pred[i : i + 1], origin, stages_all[i])[0][:take]
                self._check_fed_back(it.s.id, step, done, k)
                values[i] = np.concatenate([values[i], step])
                made[i].append(step)
            done += take
        last = [len(it.frame) - 1 for it in items]
        return [
            Grid(
                origins=[it.labels[o]],
                times=[[self._label(it.labels, o, h) for h in range(1, k + 1)]],
                values=np.concatenate(m)[None],
            )
            for it, o, m in zip(items, last, made, strict=True)
        ]

    def _check_fed_back(self, sid: str, take: np.ndarray, done: int, k: int) -> None:
        """Forecasts that are finite and, fed back, valid inputs (a log refuses <= 0)."""
        bad = ~np.isfinite(take).all(axis=1)
        why = "not finite"
        p = self.panel.by_id[sid].pipeline
        if not bad.any() and done + len(take) < k and any(t.kind == "log" for t in p.chain_):
            bad, why = (take <= 0).any(axis=1), "<= 0, which the log transform refuses"
        if not bad.any():
            return
        step = done + int(np.argmax(bad)) + 1
        if step == 1:
            raise DataError(
                f"expected a finite forecast of series {sid!r}, found {why} at step 1; its last "
                "observations are too far from the training data for this model",
                where="--input",
            )
        raise UsageError(
            f"expected forecasts of series {sid!r} that can be fed back as inputs, found one "
            f"{why} at step {step}: fed back, the forecasts diverge; use --horizon "
            f"{step - 1} or less",
            where="--horizon",
        )

    def _label(self, labels: list[str], origin: int, step: int) -> str:
        at = origin + step
        if at < len(labels) and labels[at]:
            return labels[at]
        return next_label(labels[origin], step, self.time_info)

    # ------------------------------------------------------------------ output

    def _table(
        self,
        items: list[_Series],
        grids: list[list[Grid]],
        levels: list[float],
        members: bool,
        where: str,
    ) -> Forecast:
        """One block of rows per series, the ``series`` column first."""
        targets = list(self.panel.first.targets)
        cols = self.time_columns
        time_name = cols[0] if len(cols) == 1 else "time"
        out = Forecast(time_name, targets, engine=self.engine_name, series_name="series")
        calibrator = self.bands.calibrator(levels) if levels and self.bands else None
        for i, it in enumerate(items):
            stack = np.stack([g[i].values for g in grids])
            check_finite(stack, grids[0][i], targets, where)
            bounds = {}
            if calibrator is not None and self.bands is not None:
                bounds = {lv: self.bands.bounds(calibrator, stack, lv, it.s.id) for lv in levels}
            fc = forecast_table(Forecast(time_name, targets), grids[0][i], stack, bounds, members)
            out.extra = fc.extra
            out.rows += [{"series": it.s.id, **row} for row in fc.rows]
        return out
