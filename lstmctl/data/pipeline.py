"""The fitted preprocessing: one pipeline for training and for serving.

``Pipeline`` chains the pieces of this package — missing values
(:mod:`~lstmctl.data.missing`), target transforms and scalers
(:mod:`~lstmctl.data.transforms`), one-hot categories
(:mod:`~lstmctl.data.encoding`) and masking — with scikit-learn's verbs:

* ``clean(frame)``: missing values handled (nothing is learned from them);
* ``fit(frame)`` on the (cleaned) training rows, returns ``self``; learned
  state lives in attributes ending in ``_``;
* ``transform(frame)`` -> :class:`Transformed`: model-space inputs and
  targets, and the targets before each transform (what the walk-forward
  inverse of differencing reaches back to);
* ``inverse_transform(pred, origins, stages)``: model-space forecasts made at
  ``origins`` -> the data's units;
* ``state()`` -> plain JSON-able numbers (a model directory's
  ``preprocess.json``) and ``Pipeline.from_state(state)``: the same fitted
  pipeline back, which ``predict`` applies.

Numpy and pandas only: ``predict`` imports this module and must start fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstmctl.data.encoding import OneHot
from lstmctl.data.missing import MissingValues
from lstmctl.data.scalers import MinMaxScaler, NoScaler, Scaler, StandardScaler, scaler_from_state
from lstmctl.data.transforms import Difference, Log, transform_from_state
from lstmctl.errors import DataError

if TYPE_CHECKING:  # only annotations: `predict` uses this module without pydantic
    from lstmctl.spec import DataSpec

__all__ = ["Pipeline", "Transformed"]


@dataclass
class Transformed:
    """Rows of a frame in model space (all float64, one row per frame row)."""

    # Scaled targets, scaled numeric features, one-hot categories (masked under `mask`).
    inputs: np.ndarray
    # The scaled targets after every transform (not masked): what the model forecasts.
    targets: np.ndarray
    # The targets before each transform, then after the last (stages[0]: the data's units).
    stages: list[np.ndarray]


class Pipeline:
    """Missing values, target transforms, scalers, one-hot encoder and masking, fitted once.

    Parameters (as ``data`` in a spec says them): ``targets``, ``features``
    (numeric and categorical, in the spec's order), ``categorical``,
    ``transforms`` (``{"kind": "difference", "lag": n}`` or ``{"kind": "log"}``,
    applied to the targets in order), ``scale`` (``{"kind": "minmax" |
    "standard" | "none", "range": [low, high]}``), ``missing`` (the strategy),
    ``mask_value`` (the sentinel for missing inputs under ``mask``, else
    None), ``lookback`` and ``horizon``; ``source`` words errors.
    """

    def __init__(
        self,
        targets: Sequence[str],
        features: Sequence[str] = (),
        categorical: Sequence[str] = (),
        transforms: Sequence[Mapping[str, Any]] = (),
        scale: Mapping[str, Any] | None = None,
        missing: str = "interpolate",
        mask_value: float | None = None,
        lookback: int = 1,
        horizon: int = 1,
        source: str = "data",
    ) -> None:
        self.targets = list(targets)
        self.features = list(features)
        self.categorical = list(categorical)
        self.transforms = [dict(t) for t in transforms]
        self.scale: dict[str, Any] = dict(scale or {"kind": "minmax", "range": (0.0, 1.0)})
        self.missing = missing
        self.mask_value = None if mask_value is None else float(mask_value)
        self.lookback = int(lookback)
        self.horizon = int(horizon)
        self.source = source
        self.missing_counts_: dict[str, int] = {}
        # Which features are future-known covariates (data.known): errors name their list.
        self.known: list[str] = []
        self._lines: Sequence[int] | np.ndarray | None = None

    @classmethod
    def from_spec(
        cls,
        data: DataSpec,
        source: str = "data",
        features: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
    ) -> Pipeline:
        """The (unfitted) pipeline ``data`` describes (``features`` and ``categorical``:
        other input columns than ``data``'s own, as a panel's series pipelines take)."""
        return cls(
            targets=data.target,
            features=data.features if features is None else features,
            categorical=data.categorical if categorical is None else categorical,
            transforms=[
                {"kind": t.kind, "lag": t.lag} if t.kind == "difference" else {"kind": t.kind}
                for t in data.transforms
            ],
            scale={"kind": data.scale.kind, "range": tuple(data.scale.range)},
            missing=data.missing,
            mask_value=data.mask_value if data.missing == "mask" else None,
            lookback=data.window.lookback,
            horizon=data.window.horizon,
            source=source,
        )

    # ------------------------------------------------------------------ columns

    @property
    def numeric_features(self) -> list[str]:
        return [f for f in self.features if f not in self.categorical]

    @property
    def numeric(self) -> list[str]:
        """The numeric columns: targets, then the numeric features (the inputs' first columns)."""
        return [*self.targets, *self.numeric_features]

    @property
    def lags(self) -> int:
        """Rows the differencing reaches back."""
        return sum(int(t.get("lag", 1)) for t in self.transforms if t["kind"] == "difference")

    @property
    def context(self) -> int:
        """Rows one window needs: the look-back plus what differencing reaches back."""
        return self.lookback + self.lags

    # ------------------------------------------------------------------ verbs

    def clean(self, frame: pd.DataFrame, source: str = "", record: bool = False) -> pd.DataFrame:
        """Missing values handled by the strategy (nothing about them is fitted).

        With ``drop`` the frame may lose rows (the index keeps the rest's labels).
        ``record`` keeps the counts of missing values for ``state()``.
        """
        if not len(frame) and not record:
            return frame
        filler = MissingValues(
            self.missing,  # type: ignore[arg-type]  # checked by MissingValues.fit
            self.numeric,
            self.categorical,
            source=source or self.source,
        ).fit(frame)
        if record:
            self.missing_counts_ = dict(filler.missing_counts_)
        return filler.transform(frame)

    def fit(self, frame: pd.DataFrame, check_spread: bool = True) -> Pipeline:
        """Fit the transforms, scalers and encoder on the (cleaned) training rows.

        ``check_spread``: a constant column under standard scaling is a DataError (one
        series: it would become zeros); a panel's series pass False, since a flag that
        never changes within one series is ordinary there (see
        :func:`~lstmctl.data.panel.fitting.fit_pipelines`).
        """
        names, source = self.targets, self.source
        stages = [frame[self.targets].to_numpy(dtype=np.float64)]
        chain: list[Difference | Log] = []
        for t in self.transforms:
            tr = transform_from_state(t, names)
            tr.source, tr.lines = source, self._lines
            tr.fit(stages[-1])
            stages.append(tr.transform(stages[-1]))
            chain.append(tr)
        self.chain_ = chain
        self.target_scaler_ = self._scaler(names).fit(stages[-1])
        feats = frame[self.numeric_features].to_numpy(dtype=np.float64)
        self.feature_scaler_ = self._scaler(self.numeric_features).fit(feats)
        if self.scale["kind"] == "standard" and check_spread:
            self.check_spread(stages[-1], feats, source)
        mask = self.mask_value is not None
        self.encoder_ = OneHot(self.categorical, missing_as_nan=mask, source=source).fit(frame)
        self.input_names_ = [*self.numeric, *self.encoder_.names_]
        return self

    def check_spread(self, targets: np.ndarray, feats: np.ndarray, source: str) -> None:
        """DataError for a target or numeric feature column that never varies over the
        training rows given (what standard scaling divides by)."""
        kinds = ", ".join(t["kind"] for t in self.transforms)
        after = f" after {kinds}" if self.transforms else ""
        _check_spread(targets, self.targets, f"{after}; use scale: {{kind: minmax}}", source)
        for j, name in enumerate(self.numeric_features):
            listed = "data.known" if name in self.known else "data.features"
            drop = f"; drop it from {listed}, or use scale: {{kind: minmax}}"
            _check_spread(feats[:, j : j + 1], [name], drop, source)

    def name_rows(self, source: str, lines: Sequence[int] | np.ndarray | None) -> None:
        """Word the transforms' errors (log of a value <= 0) with ``source`` and row lines."""
        self._lines = lines
        for tr in getattr(self, "chain_", []):
            tr.source, tr.lines = source, lines

    def target_stages(self, values: np.ndarray) -> list[np.ndarray]:
        """The targets ``(rows, n_targets)`` before each transform, then after the last."""
        stages = [np.asarray(values, dtype=np.float64)]
        for tr in self.chain_:
            stages.append(tr.transform(stages[-1]))
        return stages

    def transform(self, frame: pd.DataFrame) -> Transformed:
        """The (cleaned) rows of ``frame`` in model space."""
        stages = self.target_stages(frame[self.targets].to_numpy(dtype=np.float64))
        scaled = self.target_scaler_.transform(stages[-1])
        feats = frame[self.numeric_features].to_numpy(dtype=np.float64)
        feats = self.feature_scaler_.transform(feats).reshape(len(frame), -1)
        inputs = np.hstack([scaled, feats, self.encoder_.transform(frame)])
        return Transformed(self._masked(inputs), scaled, stages)

    def transform_targets(self, values: np.ndarray) -> Transformed:
        """``transform`` for a model whose only inputs are its targets, from their values."""
        if self.features:
            raise ValueError("transform_targets: the model has features")
        stages = self.target_stages(values)
        scaled = self.target_scaler_.transform(stages[-1])
        return Transformed(self._masked(scaled), scaled, stages)

    def inverse_transform(
        self, pred: np.ndarray, origins: np.ndarray, stages: Sequence[np.ndarray]
    ) -> np.ndarray:
        """Model-space forecasts made at rows ``origins`` -> the data's units (walk-forward).

        ``pred`` is ``(windows, horizon, n_targets)``; ``stages`` are those of the
        rows the origins index (``transform(frame).stages``).
        """
        z = self.target_scaler_.inverse_transform(np.asarray(pred, dtype=np.float64))
        for k in range(len(self.chain_) - 1, -1, -1):
            z = self.chain_[k].inverse_forecast(z, origins, stages[k])
        return np.asarray(z, dtype=np.float64)

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """The fitted pipeline as plain JSON-able values (``preprocess.json``'s keys)."""
        return {
            "targets": list(self.targets),
            "features": list(self.features),
            "categorical": list(self.categorical),
            "inputs": list(self.input_names_),
            "lookback": self.lookback,
            "horizon": self.horizon,
            "missing": {"strategy": self.missing, "missing": dict(self.missing_counts_)},
            "mask_value": self.mask_value,
            "transforms": [tr.state() for tr in self.chain_],
            "scale": {
                "targets": self.target_scaler_.state(),
                "features": self.feature_scaler_.state(),
            },
            "categories": self.encoder_.state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], source: str = "data") -> Pipeline:
        """The fitted pipeline ``state()`` saved (KeyError, TypeError, ValueError or
        DataError for a damaged one)."""
        targets = [str(t) for t in state["targets"]]
        scalers = state["scale"]
        target_scaler = scaler_from_state(scalers["targets"])
        out = cls(
            targets=targets,
            features=[str(f) for f in state["features"]],
            categorical=[str(c) for c in state["categorical"]],
            transforms=[dict(t) for t in state["transforms"]],
            scale={
                "kind": target_scaler.kind,
                "range": getattr(target_scaler, "feature_range", ()),
            },
            missing=str(state["missing"]["strategy"]),
            mask_value=state.get("mask_value"),
            lookback=int(state["lookback"]),
            horizon=int(state["horizon"]),
            source=source,
        )
        out.missing_counts_ = {
            str(k): int(v) for k, v in state["missing"].get("missing", {}).items()
        }
        out.chain_ = [transform_from_state(t, targets) for t in out.transforms]
        out.target_scaler_ = target_scaler
        out.feature_scaler_ = scaler_from_state(scalers["features"])
        out.encoder_ = OneHot.from_state(
            dict(state["categories"]), missing_as_nan=out.mask_value is not None, source=source
        )
        out.input_names_ = [str(v) for v in state["inputs"]]
        return out

    # ------------------------------------------------------------------ helpers

    def _scaler(self, names: Sequence[str]) -> Scaler:
        kind = self.scale.get("kind", "minmax")
        if kind == "minmax":
            return MinMaxScaler(
                self.scale.get("range", (0.0, 1.0)), names=names, source=self.source
            )
        if kind == "standard":
            return StandardScaler(names=names, source=self.source)
        return NoScaler(names=names, source=self.source)

    def _masked(self, inputs: np.ndarray) -> np.ndarray:
        if self.mask_value is None:
            return inputs
        return np.where(np.isnan(inputs), self.mask_value, inputs)


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
