"""Per-column scalers (min-max, standard, none), fitted on training rows and undoable.

Each works on any array whose last axis is the columns, ignores NaN when
fitting and passes it through when transforming; ``state()`` returns the
fitted numbers as plain JSON-able values and :func:`scaler_from_state` brings
a scaler back from them (what ``predict`` restores).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lstmctl.data.transforms import Named, as_2d
from lstmctl.errors import DataError

if TYPE_CHECKING:  # only annotations: `predict` uses these classes without pydantic
    from lstmctl.spec import ScaleSpec

__all__ = [
    "MinMaxScaler",
    "NoScaler",
    "Scaler",
    "StandardScaler",
    "make_scaler",
    "scaler_from_state",
]


class Scaler(Named):
    """Base of the per-column scalers: ``fit`` on training rows, then map any rows."""

    kind = "none"

    def fit(self, X: Any) -> Scaler:
        raise NotImplementedError

    def transform(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def inverse_transform(self, Z: Any) -> np.ndarray:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)

    def _counts(self, x: np.ndarray) -> None:
        present = (~np.isnan(x)).sum(axis=0)
        for col in np.flatnonzero(present == 0):
            raise DataError(
                f"expected values in the {len(x)} training rows to fit the scaler, found none",
                where=self._where(int(col)),
            )

    def _names(self, n: int) -> list[str]:
        return self.names if len(self.names) == n else [f"#{i + 1}" for i in range(n)]


class MinMaxScaler(Scaler):
    """Map each column's training [min, max] onto ``feature_range``.

    A constant column maps to the range's low end (no division by 0).
    """

    kind = "minmax"

    def __init__(
        self,
        feature_range: Sequence[float] = (0.0, 1.0),
        names: Sequence[str] = (),
        source: str = "",
    ) -> None:
        super().__init__(names, source)
        self.feature_range = (float(feature_range[0]), float(feature_range[1]))

    def fit(self, X: Any) -> MinMaxScaler:
        x = as_2d(X)
        self._counts(x)
        lo, hi = self.feature_range
        self.data_min_ = np.nanmin(x, axis=0)
        self.data_max_ = np.nanmax(x, axis=0)
        span = self.data_max_ - self.data_min_
        # A constant column has no span: its scale is half the range's width over the
        # value's size (at least 1), so value * scale can neither overflow (even rounded
        # up) nor lose the value.
        size = 2.0 * np.maximum(1.0, np.abs(self.data_min_))
        self.scale_ = (hi - lo) / np.where(span == 0, size, span)
        with np.errstate(over="ignore"):  # kept for the state only (see transform)
            self.min_ = lo - self.data_min_ * self.scale_
        return self

    def transform(self, X: Any) -> np.ndarray:
        # Measured from the training minimum: x * scale alone can overflow where the
        # result (within the range, for training values) cannot.
        low = self.feature_range[0]
        return (np.asarray(X, dtype=np.float64) - self.data_min_) * self.scale_ + low

    def inverse_transform(self, Z: Any) -> np.ndarray:
        low = self.feature_range[0]
        return (np.asarray(Z, dtype=np.float64) - low) / self.scale_ + self.data_min_

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "range": list(self.feature_range),
            "columns": {
                name: {
                    "data_min": float(self.data_min_[i]),
                    "data_max": float(self.data_max_[i]),
                    "scale": float(self.scale_[i]),
                    "min": float(self.min_[i]) if np.isfinite(self.min_[i]) else None,
                }
                for i, name in enumerate(self._names(len(self.scale_)))
            },
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> MinMaxScaler:
        """The fitted scaler as ``state()`` saved it."""
        cols = dict(state["columns"])
        out = cls(tuple(state["range"]), names=list(cols))
        out.data_min_ = np.array([c["data_min"] for c in cols.values()], dtype=np.float64)
        out.data_max_ = np.array([c["data_max"] for c in cols.values()], dtype=np.float64)
        out.scale_ = np.array([c["scale"] for c in cols.values()], dtype=np.float64)
        out.min_ = np.array(
            [np.nan if c.get("min") is None else c["min"] for c in cols.values()], dtype=np.float64
        )
        return out


class StandardScaler(Scaler):
    """Subtract each column's training mean, divide by its standard deviation.

    A constant column keeps scale 1 (no division by zero).
    """

    kind = "standard"

    def fit(self, X: Any) -> StandardScaler:
        x = as_2d(X)
        self._counts(x)
        # A constant column's mean and std come out of the sums with rounding noise
        # (std 3e-11 for seven 149797.5457): take its value and scale 1 exactly.
        constant = np.nanmin(x, axis=0) == np.nanmax(x, axis=0)
        self.mean_ = np.where(constant, np.nanmin(x, axis=0), np.nanmean(x, axis=0))
        std = np.nanstd(x, axis=0)
        self.scale_ = np.where(constant | (std == 0), 1.0, std)
        return self

    def transform(self, X: Any) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

    def inverse_transform(self, Z: Any) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) * self.scale_ + self.mean_

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "columns": {
                name: {"mean": float(self.mean_[i]), "std": float(self.scale_[i])}
                for i, name in enumerate(self._names(len(self.scale_)))
            },
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> StandardScaler:
        """The fitted scaler as ``state()`` saved it."""
        cols = dict(state["columns"])
        out = cls(names=list(cols))
        out.mean_ = np.array([c["mean"] for c in cols.values()], dtype=np.float64)
        out.scale_ = np.array([c["std"] for c in cols.values()], dtype=np.float64)
        return out


class NoScaler(Scaler):
    """Leave values as they are (``scale: {kind: none}``)."""

    kind = "none"

    def fit(self, X: Any) -> NoScaler:
        self.n_columns_ = as_2d(X).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.array(X, dtype=np.float64)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        return np.array(Z, dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NoScaler:
        return cls()


def scaler_from_state(state: Mapping[str, Any]) -> Scaler:
    """A fitted scaler rebuilt from its ``state()`` (a saved model's preprocess.json)."""
    kinds: dict[str, Any] = {
        "minmax": MinMaxScaler,
        "standard": StandardScaler,
        "none": NoScaler,
    }
    if state.get("kind") not in kinds:
        raise DataError(
            f"expected a scaler kind of {', '.join(kinds)}, found {state.get('kind')!r}",
            where="scale",
        )
    scaler: Scaler = kinds[state["kind"]].from_state(state)
    return scaler


def make_scaler(spec: ScaleSpec, names: Sequence[str] = (), source: str = "") -> Scaler:
    """The scaler object for ``data.scale``."""
    if spec.kind == "minmax":
        return MinMaxScaler(spec.range, names=names, source=source)
    if spec.kind == "standard":
        return StandardScaler(names=names, source=source)
    return NoScaler(names=names, source=source)
