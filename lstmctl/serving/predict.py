"""Predicting with a saved model: numpy, pandas and onnxruntime, no TensorFlow.

``predict(model_dir, rows=None, horizon=None)`` applies the fitted preprocessing
pipeline training used (:class:`lstmctl.data.pipeline.Pipeline`: missing
values, transforms, scalers, one-hot categories), restored from its state in
``preprocess.json`` with ``Pipeline.from_state``, runs the network
— ``model.onnx`` through onnxruntime when present, else (or with
``engine="keras"``) ``model.keras`` through Keras — and inverts scaling and
differencing back to the data's units.

The pieces, one module each:

* :mod:`lstmctl.serving.rows`: reading ``--input`` rows and checking them
  (numbers, times, values the fitted scaling maps near the training data);
* :mod:`lstmctl.serving.engines`: the network call, ONNX or Keras;
* :mod:`lstmctl.serving.forecast`: :class:`Predictor`, walk-forward forecasts
  at new rows or recursive ones K steps ahead, once per ensemble member;
* :mod:`lstmctl.serving.bands`: the intervals, from the saved calibration;
* :mod:`lstmctl.serving.table`: :class:`Forecast`, the rows and their columns;
* :mod:`lstmctl.serving.panel` and :mod:`lstmctl.serving.panel_rows`: the same
  for a panel's model (many series, long-format rows, ``--series``, ``--future``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lstmctl.errors import UsageError
from lstmctl.modeldir.format import ModelDir, open_model_dir
from lstmctl.serving.forecast import Predictor
from lstmctl.serving.panel import PanelPredictor, is_panel
from lstmctl.serving.panel_rows import read_future, read_panel_rows
from lstmctl.serving.rows import read_rows
from lstmctl.serving.table import Forecast


def predict(
    model: str | Any,
    text: str | None = None,
    horizon: int | None = None,
    engine: str = "auto",
    history: bool = True,
    intervals: Sequence[float] = (),
    members: bool = False,
    series: Sequence[str] | None = None,
    future: str | None = None,
) -> Forecast:
    """Load ``model`` (a model directory), read ``text`` (CSV or JSON rows) and forecast.

    ``intervals``: levels of prediction intervals to add (an ensemble's);
    ``members``: add each member's forecast. A panel's model also takes
    ``series`` (the ids to forecast; all by default) and ``future`` (rows
    ``series, time, known...`` giving known covariates at the forecast steps).
    """
    model_dir = model if isinstance(model, ModelDir) else open_model_dir(model)
    if is_panel(model_dir):
        return _predict_panel(
            model_dir, text, horizon, engine, history, intervals, members, series, future
        )
    if series:
        raise UsageError("--series names series of a panel; this model has one", "--series")
    if future is not None:
        raise UsageError(
            "--future gives known covariates of a panel's series; this model has none", "--future"
        )
    predictor = Predictor(model_dir, engine)
    rows = read_rows(text, predictor.pre, time=predictor.time_columns) if text is not None else None
    return predictor.predict(
        rows, horizon=horizon, history=history, levels=intervals, members=members
    )


def _predict_panel(
    model_dir: ModelDir,
    text: str | None,
    horizon: int | None,
    engine: str,
    history: bool,
    intervals: Sequence[float],
    members: bool,
    series: Sequence[str] | None,
    future: str | None,
) -> Forecast:
    """``predict`` of a panel's model: long-format rows in, one block per series out."""
    predictor = PanelPredictor(model_dir, engine)
    time = predictor.time_columns
    rows = None if text is None else read_panel_rows(text, predictor.panel, time)
    ahead = None if future is None else read_future(future, predictor.panel, time)
    return predictor.predict(
        rows,
        horizon=horizon,
        series=series,
        future=ahead,
        levels=intervals,
        members=members,
        history=history,
    )
