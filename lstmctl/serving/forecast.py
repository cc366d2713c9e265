"""Forecasting from a saved model: walk-forward at new rows, or recursively K steps ahead.

Two questions a saved model answers:

* **new rows**: the rows continue the series the model was trained on (the
  saved last observations come first, so differencing and the look-back
  window reach back into them). Every new row is a forecast origin: one
  forecast of the model's horizon per row, each made from the actual
  observations up to that row (walk-forward, as evaluation scores it).
* **K steps ahead** (``horizon=K``): from the last observation (the saved
  ones, or the end of the rows), forecasts are fed back as inputs until K
  steps are made (recursive multi-step forecasting).

A stateful model starts from the LSTM states saved after its training data
(they are explicit model inputs and outputs) and carries them from window to
window. ``horizon`` is at most ``MAX_HORIZON`` steps. Each step costs the
same (the last window and the LSTM states are carried forward), so the time
grows linearly with ``horizon``.

An ensemble (``finalize --members N``) answers both questions once per
member, each from its own weights and states (fed back its own forecasts),
and forecasts their mean (:func:`lstmctl.evaluation.member_stats.ensemble`);
asked for, it adds intervals (:mod:`lstmctl.serving.bands`) and each
member's own forecast (``<target>_m01`` ...). One member is the model itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lstmctl.data.pipeline import Pipeline
from lstmctl.errors import DataError, ModelDirError, UsageError
from lstmctl.modeldir.format import ModelDir
from lstmctl.modeldir.members import calibration, member_count, member_states
from lstmctl.serving.bands import Bands
from lstmctl.serving.engines import Engine, make_engine
from lstmctl.serving.labels import next_label, step_labels
from lstmctl.serving.request import check_request, usable_levels
from lstmctl.serving.rows import check_times, check_values, tail_frame
from lstmctl.serving.table import Forecast, Grid, check_finite, forecast_table


class Predictor:
    """A verified model directory (one model, or an ensemble's members) ready to forecast."""

    def __init__(self, model_dir: ModelDir, engine: str = "auto") -> None:
        self.dir = model_dir
        kind = model_dir.manifest.get("kind", "forecast")
        if kind != "forecast":
            raise ModelDirError(
                f"expected a forecasting model, found a {kind} model "
                "(use `lstmctl generate` for generative models)",
                where=str(model_dir.path),
            )
        state = model_dir.preprocess
        where = str(model_dir.path / "preprocess.json")
        try:
            self.pre = Pipeline.from_state(state, source="--input")
            self.time_columns = [str(c) for c in state["time"]["columns"]]
        except (KeyError, TypeError, ValueError, AttributeError, DataError) as e:
            raise ModelDirError(
                f"expected the fitted preprocessing lstmctl writes, found a damaged entry ({e})",
                where=where,
            ) from None
        try:
            self.tail = tail_frame(state["tail"], self.pre)
            self.tail_labels = [str(v) for v in state["tail"]["labels"]]
            self.time_info = dict(state["time"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelDirError(
                f"expected the saved last observations, found ({e})", where
            ) from None
        try:
            self.members = member_count(model_dir)
            self.member_states = member_states(model_dir, self.members)
        except (KeyError, TypeError, ValueError) as e:
            raise ModelDirError(f"expected the saved LSTM states, found ({e})", where) from None
        self.saved_states = self.member_states[0]
        cal = calibration(model_dir)
        self.bands = None if cal is None else Bands(cal, str(model_dir.path / "intervals.json"))
        self.engine_kind = engine
        self.engine = make_engine(model_dir, engine)
        self._others: dict[int, Engine] = {}
        self._check_states(self.engine, 0)
        self.active = self.engine  # the member forecasting now

    def _check_states(self, engine: Engine, member: int) -> None:
        saved = self.member_states[member]
        if engine.n_states != len(saved):
            which = "" if self.members == 1 else f" of member {member + 1}"
            raise ModelDirError(
                f"the network{which} takes {engine.n_states} state inputs but "
                f"{len(saved)} saved states were found",
                where=str(self.dir.path / "preprocess.json"),
            )

    def _member_engine(self, member: int) -> Engine:
        """Member ``member``'s engine (0: ``self.engine``), made when first needed."""
        if member == 0:
            return self.engine
        if member not in self._others:
            engine = make_engine(self.dir, self.engine_kind, member=member)
            self._check_states(engine, member)
            self._others[member] = engine
        return self._others[member]

    # ------------------------------------------------------------------ public

    def predict(
        self,
        rows: pd.DataFrame | None = None,
        horizon: int | None = None,
        history: bool = True,
        levels: Sequence[float] = (),
        members: bool = False,
    ) -> Forecast:
        """Forecasts at every new row, or ``horizon`` steps ahead from the last observation.

        ``levels``: intervals at these levels (an ensemble's); ``members``: each
        member's forecast too.
        """
        pre = self.pre
        check_request(horizon, rows is not None, history)
        found = usable_levels(levels, self.bands, self.members)
        frame, first_new = self._frame(rows, history)
        pre.name_rows("--input", frame["__line__"].to_numpy())
        t = pre.transform(frame)
        inputs, stages = t.inputs, t.stages
        check_values(frame, inputs, first_new, pre)
        grids = []
        for i in range(self.members):
            self.active = self._member_engine(i)
            saved = self.member_states[i]
            states = [s.copy() for s in saved] if history else self._zero_states()
            if rows is not None and horizon is None:
                grids.append(self._walk_forward(frame, inputs, stages, first_new, states, history))
            else:
                k = horizon or pre.horizon
                grids.append(self._recursive(frame, inputs, stages, k, states, history, first_new))
        self.active = self.engine
        stack = np.stack([g.values for g in grids])
        where = "--input" if rows is not None else str(self.dir.path)
        check_finite(stack, grids[0], list(pre.targets), where)
        bounds = {}
        if found and self.bands is not None:
            calibrator = self.bands.calibrator(found)
            bounds = {lv: self.bands.bounds(calibrator, stack, lv) for lv in found}
        fc = Forecast(self._time_name(), list(pre.targets), engine=self.engine.name)
        return forecast_table(fc, grids[0], stack, bounds, members)

    def _frame(self, rows: pd.DataFrame | None, history: bool) -> tuple[pd.DataFrame, int]:
        """The saved last observations (with ``history``) then the new rows, cleaned; and
        where the new rows start."""
        pre = self.pre
        new = rows if rows is not None else self._empty_rows()
        if "__line__" not in new.columns:  # rows not from read_rows: number them from 1
            new = new.assign(__line__=np.arange(1, len(new) + 1))
        if rows is not None:
            check_times(
                new,
                history,
                self.tail_labels,
                self.time_columns,
                self.time_info,
                pre.missing,
            )
        context = self.tail if history else self._empty_rows()
        frame = pd.concat([context, new], ignore_index=True)
        frame = pre.clean(frame, "--input")  # `drop` may drop rows: labels travel with it
        first_new = int((frame.index < len(context)).sum())
        frame = frame.reset_index(drop=True)
        if rows is not None and len(new) and len(frame) == first_new:
            raise DataError("expected rows with every used column present, found none", "--input")
        if len(frame) < pre.context:
            raise DataError(
                f"expected at least {pre.context} rows (look-back {pre.lookback}"
                + (f" + differencing lag {pre.lags}" if pre.lags else "")
                + f"), found {len(frame)}",
                where="--input",
            )
        return frame, first_new

    # ------------------------------------------------------------------ checks

    def _check_fed_back(self, take: np.ndarray, done: int, k: int) -> None:
        """Forecasts (steps ``done + 1`` on) that are finite and, when fed back, valid inputs."""
        bad = ~np.isfinite(take).all(axis=1)
        why = "not finite"
        if not bad.any() and done + len(take) < k and any(t.kind == "log" for t in self.pre.chain_):
            bad, why = (take <= 0).any(axis=1), "<= 0, which the log transform refuses"
        if not bad.any():
            return
        i = int(np.argmax(bad))
        step, found = done + i + 1, ", ".join(f"{v:g}" for v in take[i])
        if step == 1:
            raise DataError(
                f"expected a finite forecast, found {found} at step 1; the last observations "
                "are too far from the training data for this model",
                where="--input",
            )
        raise UsageError(
            f"expected forecasts that can be fed back as inputs, found {found} at step {step} "
            f"({why}): fed back, the forecasts diverge; use --horizon {step - 1} or less",
            where="--horizon",
        )

    # ------------------------------------------------------------------ walk-forward

    def _walk_forward(
        self,
        frame: pd.DataFrame,
        inputs: np.ndarray,
        stages: list[np.ndarray],
        first_new: int,
        states: list[np.ndarray],
        history: bool,
    ) -> Grid:
        """The active member's forecasts at every new row (walk-forward)."""
        pre = self.pre
        first_origin = pre.context - 1
        wanted = np.arange(max(first_new, first_origin), len(frame))
        if self.active.n_states:
            # The saved states follow the training windows up to the row before the
            # last saved one: feed every window from the last saved row on.
            start = (first_new - 1) if history else first_origin
            feed = np.arange(max(start, first_origin), len(frame))
            preds, _ = self._stream(inputs, feed, states)
            keep = np.isin(feed, wanted)
            pred, origins = preds[keep], feed[keep]
        else:
            origins = wanted
            pred = self._batch(inputs, origins)
        ok = self._complete(inputs, origins)
        pred, origins = pred[ok], origins[ok]
        values = pre.inverse_transform(pred, origins, stages)
        labels = list(frame["__label__"])
        steps = range(1, values.shape[1] + 1)
        return Grid(
            origins=[labels[int(o)] for o in origins],
            times=[[self._step_label(labels, int(o), h) for h in steps] for o in origins],
            values=np.asarray(values, dtype=np.float64),
        )

    # ------------------------------------------------------------------ recursive

    def _recursive(
        self,
        frame: pd.DataFrame,
        inputs: np.ndarray,
        stages: list[np.ndarray],
        k: int,
        states: list[np.ndarray],
        history: bool,
        first_new: int,
    ) -> Grid:
        """The active member's forecasts ``k`` steps ahead, each fed its own forecasts back."""
        pre = self.pre
        extra = [f for f in pre.features]
        if k > pre.horizon and extra:
            raise UsageError(
                f"forecasting {k} steps with a model of horizon {pre.horizon} feeds forecasts "
                f"back as inputs, but the inputs include features ({', '.join(extra)}) whose "
                "future values are unknown; use --horizon "
                f"{pre.horizon} or less, or give the future rows with --input",
                where="--horizon",
            )
        labels = list(frame["__label__"])
        last = len(frame) - 1
        if self.active.n_states:
            # Bring the states up to the last row (the saved ones stop one row before
            # the saved last window; new rows move them on).
            start = (first_new - 1) if history else pre.context - 1
            feed = np.arange(max(start, pre.context - 1), last)
            if len(feed):
                _, states = self._stream(inputs, feed, states)
        # Each step needs only the last context + horizon rows (its window, what
        # differencing reaches back to, the forecasts fed back): the series is
        # carried as those rows, so every step costs the same.
        keep = pre.context + pre.horizon
        series = frame[pre.targets].to_numpy(dtype=np.float64)[-keep:]
        made: list[np.ndarray] = []
        while True:
            origin = np.array([len(inputs) - 1])
            if self.active.n_states:
                pred, states = self._stream(inputs, origin, states)
            else:
                pred = self._batch(inputs, origin)
            if not self._complete(inputs, origin).all():
                raise DataError(
                    "expected the last window to be complete, found missing values in it",
                    where="--input",
                )
            values = pre.inverse_transform(pred, origin, stages)[0]  # (horizon, n_targets)
            take = values[: k - len(made)]
            self._check_fed_back(take, len(made), k)
            made.extend(take)
            if len(made) >= k:
                break
            # Fed back: the forecasts become the next observations (no features
            # here, so the targets are the inputs). The states then move through
            # the windows ending at all but the last of them.
            series = np.concatenate([series, take])[-keep:]
            t = pre.transform_targets(series)
            inputs, stages = t.inputs, t.stages
            if self.active.n_states and len(take) > 1:
                feed = np.arange(len(series) - len(take), len(series) - 1)
                _, states = self._stream(inputs, feed, states)
        return Grid(
            origins=[labels[-1]],
            times=[self._step_labels(labels, last, k)],
            values=np.asarray(made, dtype=np.float64)[None],
        )

    # ------------------------------------------------------------------ helpers

    def _windows(self, inputs: np.ndarray, origins: np.ndarray) -> np.ndarray:
        lb = self.pre.lookback
        idx = origins[:, None] + np.arange(-lb + 1, 1)[None, :]
        return np.asarray(inputs[idx], dtype=np.float32)

    def _complete(self, inputs: np.ndarray, origins: np.ndarray) -> np.ndarray:
        if len(origins) == 0:
            return np.zeros(0, dtype=bool)
        return ~np.isnan(self._windows(inputs, origins)).any(axis=(1, 2))

    def _batch(self, inputs: np.ndarray, origins: np.ndarray) -> np.ndarray:
        if len(origins) == 0:
            return np.zeros((0, self.pre.horizon, len(self.pre.targets)), np.float32)
        x = np.nan_to_num(self._windows(inputs, origins))
        return self.active(x, [])[0]

    def _stream(
        self, inputs: np.ndarray, origins: np.ndarray, states: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed windows one at a time, carrying the states; forecasts for each."""
        out = []
        for o in origins:
            x = np.nan_to_num(self._windows(inputs, np.array([o])))
            pred, states = self.active(x, states)
            out.append(pred[0])
        shape = (0, self.pre.horizon, len(self.pre.targets))
        return (np.stack(out) if out else np.zeros(shape, np.float32)), states

    def _zero_states(self) -> list[np.ndarray]:
        return [np.zeros((1, n), np.float32) for n in self.active.state_sizes]

    def _empty_rows(self) -> pd.DataFrame:
        return self.tail.iloc[:0]

    def _time_name(self) -> str:
        cols = self.time_columns
        return cols[0] if len(cols) == 1 else "time"

    def _step_label(self, labels: list[str], origin: int, step: int) -> str:
        """The time of ``origin + step``: its row's label, else counted on by the frequency."""
        at = origin + step
        if at < len(labels) and labels[at]:
            return labels[at]
        return next_label(labels[origin], step, self.time_info)

    def _step_labels(self, labels: list[str], origin: int, steps: int) -> list[str]:
        """``_step_label`` for steps 1 to ``steps`` at once (one date range, not one each)."""
        if origin + 1 < len(labels):  # not from the last row: row by row
            return [self._step_label(labels, origin, h) for h in range(1, steps + 1)]
        return step_labels(labels[origin], steps, self.time_info)
