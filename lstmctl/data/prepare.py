"""``prepare(spec)``: load, clean, split, transform, scale, encode and window the data.

Order: read the CSV -> handle missing values -> split the rows -> fit the
pipeline (transforms, scalers, one-hot encoder: :mod:`lstmctl.data.pipeline`)
on the training rows (those before the validation rows) -> apply it to every
row -> cut the windows -> assign each window to train, validation or test by
its target rows. The fitted pipeline travels in ``Prepared.pipeline``: its
``state()`` is what a saved model's ``predict`` applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.loading import load_csv
from lstmctl.data.pipeline import Pipeline
from lstmctl.data.prepared import Prepared, Series
from lstmctl.data.splits import RowSplit
from lstmctl.data.windows import Windower
from lstmctl.errors import DataError, SpecError
from lstmctl.spec import Spec

__all__ = ["prepare"]


def prepare(spec: Spec) -> Prepared:
    """Everything the models and the scoring need, from ``spec.data``."""
    data = spec.data
    if spec.model.series_embedding is not None and data.series is None:
        raise SpecError(
            "a series embedding needs many series: expected data.series, found none",
            where="model.series_embedding",
        )
    if data.problem is not None:
        from lstmctl.data.problems.prepare import prepare_problem

        return prepare_problem(spec)
    if data.is_panel:  # many series, or one with known-ahead inputs (a panel of one)
        from lstmctl.data.panel import prepare_panel

        return prepare_panel(spec)
    return _prepare_series(spec)


def _prepare_series(spec: Spec) -> Prepared:
    """One series read from ``data.path``: the steps of the module's docstring."""
    data = spec.data
    source = str(data.path)
    pipeline = Pipeline.from_spec(data, source=source)
    frame, labels, observed_rows = _load_clean(spec, pipeline, source)
    lookback, horizon = data.window.lookback, data.window.horizon
    split = RowSplit(data.split.test, data.split.validation).fit(len(frame))
    split.check(lookback, horizon, pipeline.lags)

    # Fitted on the training rows, applied to every row.
    t = pipeline.fit(frame.iloc[: split.n_fit_]).transform(frame)
    windower = Windower(lookback, horizon, allow_missing_inputs=pipeline.mask_value is not None)
    X, y, origins = windower.fit().transform(t.inputs, t.targets)
    parts = split.assign(origins, horizon)
    # Filled-in targets are guesses: the test part is scored on observed values only.
    target_rows = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    imputed = ~observed_rows[np.minimum(target_rows, len(observed_rows) - 1)].all(axis=1)
    skipped = int((parts["test"] & imputed).sum())
    parts["test"] &= ~imputed
    _check_windows(parts, split, horizon, source)
    state: dict[str, Any] = {
        **pipeline.state(),
        "rows": split.state(),
        "windows": {k: int(v.sum()) for k, v in parts.items()},
        # Test windows left out of scoring because a target was filled in.
        "test_windows_imputed": skipped,
    }
    return _assemble(X, y, origins, parts, t.stages, pipeline, labels, split, state)


def _load_clean(
    spec: Spec, pipeline: Pipeline, source: str
) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """The used columns with missing values handled, their time labels, and which rows'
    targets were observed (not filled in)."""
    frame, label_list = load_csv(spec.data)
    labels = pd.Series(label_list, index=frame.index)
    observed = frame[list(spec.data.target)].notna().all(axis=1)
    frame = pipeline.clean(frame, record=True)
    pipeline.name_rows(source, frame.index.to_numpy())
    if len(frame) < 2:
        raise DataError(
            f"expected rows for a training part and then a test part, found {len(frame)} row",
            where=source,
        )
    return frame, labels.loc[frame.index], observed.loc[frame.index].to_numpy()


def _assemble(
    X: np.ndarray,
    y: np.ndarray,
    origins: np.ndarray,
    parts: dict[str, np.ndarray],
    stages: Sequence[np.ndarray],
    pipeline: Pipeline,
    labels: pd.Series,
    split: RowSplit,
    state: dict[str, Any],
) -> Prepared:
    """The windows of each part, and the test part in the data's units with its baseline."""
    horizon, n_targets = y.shape[1], len(pipeline.targets)
    test_origins, val_origins = origins[parts["test"]], origins[parts["val"]]
    ahead = np.arange(1, horizon + 1)[None, :]
    original = stages[0]
    # The last observed value at each origin (missing ones under `mask` carry forward).
    last_seen = pd.DataFrame(original).ffill().to_numpy()
    persistence = np.repeat(last_seen[test_origins][:, None, :], horizon, axis=1)
    return Prepared(
        X_train=X[parts["train"]],
        y_train=y[parts["train"]],
        X_val=X[parts["val"]],
        y_val=y[parts["val"]],
        X_test=X[parts["test"]],
        y_test=y[parts["test"]],
        actual_test=np.asarray(original[test_origins[:, None] + ahead], dtype=np.float64),
        persistence_test=np.asarray(persistence, dtype=np.float64),
        inverse=_Inverse(pipeline, stages, test_origins, n_targets),
        input_names=list(pipeline.input_names_),
        target_names=list(pipeline.targets),
        test_labels=[str(v) for v in labels.to_numpy()[test_origins + 1]],
        mask_value=pipeline.mask_value,
        state=state,
        pipeline=pipeline,
        actual_val=np.asarray(original[val_origins[:, None] + ahead], dtype=np.float64),
        inverse_val=_Inverse(pipeline, stages, val_origins, n_targets),
        series=Series(
            values=np.asarray(original, dtype=np.float64),
            n_insample=split.n_train_,
            test_origins=test_origins,
            labels=[str(v) for v in labels.to_numpy()],
        ),
    )


class _Inverse:
    """Model-space test forecasts -> original units (a picklable callable)."""

    def __init__(
        self,
        pipeline: Pipeline,
        stages: Sequence[np.ndarray],
        origins: np.ndarray,
        n_targets: int,
    ) -> None:
        self.pipeline = pipeline
        self.stages = list(stages)
        self.origins = origins
        self.n_targets = n_targets

    def __call__(self, pred: np.ndarray) -> np.ndarray:
        z = np.asarray(pred, dtype=np.float64)
        expected = (len(self.origins), None, self.n_targets)
        if z.ndim != 3 or z.shape[0] != expected[0] or z.shape[2] != expected[2]:
            raise ValueError(
                f"expected predictions of shape ({expected[0]}, horizon, {expected[2]}) "
                f"for the test windows, found {z.shape}"
            )
        return self.pipeline.inverse_transform(z, self.origins, self.stages)


def _check_windows(
    parts: dict[str, np.ndarray], split: RowSplit, horizon: int, source: str
) -> None:
    # The row counts were checked already: no window here means missing values.
    rows = {"train": split.n_fit_, "val": split.n_val_, "test": split.n_test_}
    names = {"train": "training", "val": "validation", "test": "test"}
    for key in ("train", "val", "test"):
        if rows[key] and not parts[key].any():
            raise DataError(
                f"expected at least one complete {names[key]} window, found none in "
                f"{rows[key]} {names[key]} rows: every window has a missing value "
                "(try data.missing: interpolate)",
                where=source,
            )
