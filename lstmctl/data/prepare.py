"""``prepare(spec)``: load, clean, split, transform, scale, encode and window the data.

Order: read the CSV -> handle missing values -> split the rows -> fit the
transforms, scaler and one-hot encoder on the training rows (those before the
validation rows) -> apply them to every row -> cut the windows -> assign each
window to train, validation or test by its target rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.data.encoding import OneHot
from lstmctl.data.loading import load_csv, numeric_columns
from lstmctl.data.missing import MissingValues
from lstmctl.data.prepared import Prepared
from lstmctl.data.splits import RowSplit
from lstmctl.data.transforms import Difference, Log, make_scaler, make_transform
from lstmctl.data.windows import Windower
from lstmctl.errors import DataError
from lstmctl.spec import Spec

__all__ = ["prepare"]


def prepare(spec: Spec) -> Prepared:
    """Everything the models and the scoring need, from ``spec.data``."""
    data = spec.data
    if data.problem is not None:
        from lstmctl.data.problems.prepare import prepare_problem

        return prepare_problem(spec)
    source = str(data.path)
    frame, label_list = load_csv(data)
    labels = pd.Series(label_list, index=frame.index)

    targets = list(data.target)
    numeric = numeric_columns(data)
    num_features = numeric[len(targets) :]
    categorical = list(data.categorical)
    mask = data.missing == "mask"

    # Filled-in targets are guesses: the test part is scored on observed values only.
    observed = frame[targets].notna().all(axis=1)
    filler = MissingValues(data.missing, numeric, categorical, source=source).fit(frame)
    frame = filler.transform(frame)
    observed_rows = observed.loc[frame.index].to_numpy()
    labels = labels.loc[frame.index]
    lines = frame.index.to_numpy()

    lookback, horizon = data.window.lookback, data.window.horizon
    lags = sum(t.lag for t in data.transforms if t.kind == "difference")
    if len(frame) < 2:
        raise DataError(
            f"expected rows for a training part and then a test part, found {len(frame)} row",
            where=source,
        )
    split = RowSplit(data.split.test, data.split.validation).fit(len(frame))
    split.check(lookback, horizon, lags)
    n_fit = split.n_fit_

    # Targets: transforms in order, keeping every stage for the walk-forward inverse.
    stages = [frame[targets].to_numpy(dtype=np.float64)]
    chain: list[Difference | Log] = []
    for t in data.transforms:
        tr = make_transform(t, names=targets, source=source, lines=lines)
        tr.fit(stages[-1][:n_fit])
        stages.append(tr.transform(stages[-1]))
        chain.append(tr)

    target_scaler = make_scaler(data.scale, names=targets, source=source).fit(stages[-1][:n_fit])
    scaled_targets = target_scaler.transform(stages[-1])
    feats = frame[num_features].to_numpy(dtype=np.float64)
    feature_scaler = make_scaler(data.scale, names=num_features, source=source)
    feature_scaler.fit(feats[:n_fit])
    if data.scale.kind == "standard":
        after = f" after {', '.join(t.kind for t in data.transforms)}" if data.transforms else ""
        _check_spread(stages[-1][:n_fit], targets, f"{after}; use scale: {{kind: minmax}}", source)
        drop = "; drop it from data.features, or use scale: {kind: minmax}"
        _check_spread(feats[:n_fit], num_features, drop, source)
    encoder = OneHot(categorical, missing_as_nan=mask, source=source).fit(frame.iloc[:n_fit])

    inputs = np.hstack([scaled_targets, feature_scaler.transform(feats), encoder.transform(frame)])
    if mask:
        inputs = np.where(np.isnan(inputs), data.mask_value, inputs)
    input_names = [*targets, *num_features, *encoder.names_]

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

    inverse = _Inverse(target_scaler, chain, stages, test_origins, len(targets))
    state: dict[str, Any] = {
        "inputs": input_names,
        "targets": targets,
        "rows": split.state(),
        "windows": {k: int(v.sum()) for k, v in parts.items()},
        # Test windows left out of scoring because a target was filled in.
        "test_windows_imputed": skipped,
        "lookback": lookback,
        "horizon": horizon,
        "missing": filler.state(),
        "transforms": [tr.state() for tr in chain],
        "scale": {
            "targets": target_scaler.state(),
            "features": feature_scaler.state(),
        },
        "categories": encoder.state(),
        "mask_value": float(data.mask_value) if mask else None,
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
        input_names=input_names,
        target_names=targets,
        test_labels=[str(v) for v in labels.to_numpy()[test_origins + 1]],
        mask_value=float(data.mask_value) if mask else None,
        state=state,
    )


class _Inverse:
    """Model-space test forecasts -> original units (a picklable callable)."""

    def __init__(
        self,
        scaler: Any,
        chain: Sequence[Difference | Log],
        stages: Sequence[np.ndarray],
        origins: np.ndarray,
        n_targets: int,
    ) -> None:
        self.scaler = scaler
        self.chain = list(chain)
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
        z = self.scaler.inverse_transform(z)
        for k in range(len(self.chain) - 1, -1, -1):
            z = self.chain[k].inverse_forecast(z, self.origins, self.stages[k])
        return np.asarray(z, dtype=np.float64)


def _check_spread(values: np.ndarray, names: Sequence[str], hint: str, source: str) -> None:
    # Standard scaling divides by each column's spread over the training rows. With
    # none, the scaler keeps scale 1 and the column silently becomes zeros: a feature
    # that tells the model nothing, or a target it cannot learn anything from.
    for j, name in enumerate(names):
        col = values[:, j][~np.isnan(values[:, j])]
        if col.size and (col == col[0]).all():
            raise DataError(
                f"standard scaling needs values that vary over the {len(values)} training "
                f"rows, found every one equal to {col[0]:g}{hint}",
                where=f"{source}: column {name}",
            )


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
