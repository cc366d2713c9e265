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
    if data.series is not None:
        from lstmctl.data.panel import prepare_panel

        return prepare_panel(spec)
    source = str(data.path)
    frame, label_list = load_csv(data)
    labels = pd.Series(label_list, index=frame.index)

    targets = list(data.target)
    pipeline = Pipeline.from_spec(data, source=source)

    # Filled-in targets are guesses: the test part is scored on observed values only.
    observed = frame[targets].notna().all(axis=1)
    frame = pipeline.clean(frame, record=True)
    observed_rows = observed.loc[frame.index].to_numpy()
    labels = labels.loc[frame.index]
    pipeline.name_rows(source, frame.index.to_numpy())

    lookback, horizon = data.window.lookback, data.window.horizon
    lags = pipeline.lags
    if len(frame) < 2:
        raise DataError(
            f"expected rows for a training part and then a test part, found {len(frame)} row",
            where=source,
        )
    split = RowSplit(data.split.test, data.split.validation).fit(len(frame))
    split.check(lookback, horizon, lags)
    n_fit = split.n_fit_

    # Fitted on the training rows, applied to every row.
    t = pipeline.fit(frame.iloc[:n_fit]).transform(frame)
    inputs, scaled_targets, stages = t.inputs, t.targets, t.stages
    mask = pipeline.mask_value is not None

    windower = Windower(lookback, horizon, allow_missing_inputs=mask).fit()
    X, y, origins = windower.transform(inputs, scaled_targets)
    parts = split.assign(origins, horizon)
    target_rows = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    imputed = ~observed_rows[np.minimum(target_rows, len(observed_rows) - 1)].all(axis=1)
    skipped = int((parts["test"] & imputed).sum())
    parts["test"] &= ~imputed
    _check_windows(parts, split, horizon, source)

    test_origins = origins[parts["test"]]
    steps = test_origins[:, None] + np.arange(1, horizon + 1)[None, :]
    original = stages[0]
    actual = original[steps]
    # The last observed value at each origin (missing ones under `mask` carry forward).
    last_seen = pd.DataFrame(original).ffill().to_numpy()
    persistence = np.repeat(last_seen[test_origins][:, None, :], horizon, axis=1)

    inverse = _Inverse(pipeline, stages, test_origins, len(targets))
    val_origins = origins[parts["val"]]
    val_steps = val_origins[:, None] + np.arange(1, horizon + 1)[None, :]
    state: dict[str, Any] = {
        **pipeline.state(),
        "rows": split.state(),
        "windows": {k: int(v.sum()) for k, v in parts.items()},
        # Test windows left out of scoring because a target was filled in.
        "test_windows_imputed": skipped,
    }
    return Prepared(
        X_train=X[parts["train"]],
        y_train=y[parts["train"]],
        X_val=X[parts["val"]],
        y_val=y[parts["val"]],
        X_test=X[parts["test"]],
        y_test=y[parts["test"]],
        actual_test=np.asarray(actual, dtype=np.float64),
        persistence_test=np.asarray(persistence, dtype=np.float64),
        inverse=inverse,
        input_names=list(pipeline.input_names_),
        target_names=targets,
        test_labels=[str(v) for v in labels.to_numpy()[test_origins + 1]],
        mask_value=pipeline.mask_value,
        state=state,
        pipeline=pipeline,
        actual_val=np.asarray(original[val_steps], dtype=np.float64),
        inverse_val=_Inverse(pipeline, stages, val_origins, len(targets)),
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
