"""Value transforms (differencing, log) and per-column scalers, each undoable.

Every object works on 2-D arrays ``(rows, columns)`` of float64 (scalers on any
array whose last axis is the columns), ignores NaN when fitting and passes it
through when transforming. Fitted state lives in attributes ending in ``_`` and
``state()`` returns it as plain JSON-able numbers.

``inverse_forecast(pred, origins, before)`` undoes a transform for forecasts
``pred`` of shape ``(windows, horizon, columns)`` made at row ``origins[i]``
of the series, ``before`` being the series as it was before this transform:
differencing adds each predicted change to the actual value ``lag`` rows back
while that row is observed (at or before the origin), else to the forecast
already inverted for it (walk-forward).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from lstmctl.errors import DataError

if TYPE_CHECKING:  # only annotations: `predict` uses these classes without pydantic
    from lstmctl.spec import ScaleSpec, TransformSpec

__all__ = [
    "Difference",
    "Log",
    "MinMaxScaler",
    "StandardScaler",
    "NoScaler",
    "Transform",
    "Scaler",
    "make_transform",
    "make_scaler",
    "transform_from_state",
    "scaler_from_state",
]


def _2d(x: Any) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


class _Named:
    """Column names and CSV line numbers, used only to word errors."""

    def __init__(
        self,
        names: Sequence[str] = (),
        source: str = "",
        lines: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        self.names = list(names)
        self.source = source
        self.lines = lines

    def _where(self, col: int, row: int | None = None) -> str:
        name = self.names[col] if col < len(self.names) else f"#{col + 1}"
        parts = [f"column {name}"]
        if row is not None:
            if self.lines is not None and row < len(self.lines):
                parts.append(f"line {int(self.lines[row])}")
            else:
                parts.append(f"row {row}")
        where = ", ".join(parts)
        return f"{self.source}: {where}" if self.source else where


class Transform(Protocol):
    kind: str

    def fit(self, X: Any) -> Any: ...
    def transform(self, X: Any) -> np.ndarray: ...
    def inverse_transform(self, Z: Any) -> np.ndarray: ...
    def inverse_forecast(
        self, pred: np.ndarray, origins: np.ndarray, before: np.ndarray
    ) -> np.ndarray: ...
    def state(self) -> dict[str, Any]: ...


# --------------------------------------------------------------------------- transforms


class Difference(_Named):
    """``z[t] = x[t] - x[t - lag]``; the first ``lag`` rows become NaN."""

    kind = "difference"

    def __init__(
        self,
        lag: int = 1,
        names: Sequence[str] = (),
        source: str = "",
        lines: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        super().__init__(names, source, lines)
        self.lag = int(lag)

    def fit(self, X: Any) -> Difference:
        x = _2d(X)
        if self.lag < 1:
            raise DataError(f"expected a lag >= 1, found {self.lag}", where="data.transforms")
        if len(x) <= self.lag:
            raise DataError(
                f"difference with lag {self.lag} needs more than {self.lag} rows, found {len(x)}",
                where=self.source or "data.transforms",
            )
        # The first `lag` values: what inverse_transform rebuilds the series from.
        self.head_ = x[: self.lag].tolist()
        self.n_columns_ = x.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        x = _2d(X)
        out = np.full_like(x, np.nan)
        out[self.lag :] = x[self.lag :] - x[: -self.lag]
        return out

    def inverse_transform(self, Z: Any, head: Any = None) -> np.ndarray:
        """Rebuild the series from its differences and its first ``lag`` values.

        ``head`` defaults to the first ``lag`` rows seen by ``fit`` (the series
        is assumed to start where the fitted one did).
        """
        z = _2d(Z)
        lag = self.lag
        start = np.asarray(self.head_ if head is None else head, dtype=np.float64)
        start = start.reshape(lag, z.shape[1])
        n, k = z.shape
        m = -(-n // lag)
        steps = np.zeros((m * lag, k))
        steps[:n] = z
        steps[:lag] = 0.0
        out = steps.reshape(m, lag, k).cumsum(axis=0) + start[None]
        return out.reshape(m * lag, k)[:n]

    def inverse_forecast(
        self, pred: np.ndarray, origins: np.ndarray, before: np.ndarray
    ) -> np.ndarray:
        pred = np.asarray(pred, dtype=np.float64)
        before = _2d(before)
        origins = np.asarray(origins, dtype=np.int64)
        out = np.empty_like(pred)
        for h in range(pred.shape[1]):
            # Step h forecasts row origin + h + 1; its base row is lag rows back.
            back = h - self.lag  # the step lag rows back; < 0: an observed row
            base = out[:, back] if back >= 0 else before[origins + h + 1 - self.lag]
            out[:, h] = base + pred[:, h]
        return out

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "lag": self.lag}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], names: Sequence[str] = ()) -> Difference:
        """The transform as ``state()`` saved it (forward and forecast inverse only)."""
        return cls(int(state["lag"]), names=names)


class Log(_Named):
    """Natural log; every (present) value must be > 0."""

    kind = "log"

    def fit(self, X: Any) -> Log:
        self.n_columns_ = _2d(X).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        x = _2d(X)
        bad = x <= 0  # NaN compares False: missing values pass through.
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise DataError(
                f"log needs values > 0, found {x[row, col]:g}; shift or scale the column so "
                "every value is positive, or drop the log transform",
                where=self._where(col, row),
            )
        return np.log(x)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        return np.exp(_2d(Z))

    def inverse_forecast(
        self, pred: np.ndarray, origins: np.ndarray, before: np.ndarray
    ) -> np.ndarray:
        return np.exp(np.asarray(pred, dtype=np.float64))

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], names: Sequence[str] = ()) -> Log:
        return cls(names=names)


def transform_from_state(state: Mapping[str, Any], names: Sequence[str] = ()) -> Difference | Log:
    """A transform rebuilt from its ``state()`` (a saved model's preprocess.json)."""
    kinds: dict[str, type[Difference] | type[Log]] = {"difference": Difference, "log": Log}
    if state.get("kind") not in kinds:
        raise DataError(
            f"expected a transform kind of {', '.join(kinds)}, found {state.get('kind')!r}",
            where="transforms",
        )
    return kinds[state["kind"]].from_state(state, names)


def make_transform(
    spec: TransformSpec,
    names: Sequence[str] = (),
    source: str = "",
    lines: Sequence[int] | np.ndarray | None = None,
) -> Difference | Log:
    """The transform object for one entry of ``data.transforms``."""
    if spec.kind == "difference":
        return Difference(spec.lag, names=names, source=source, lines=lines)
    if spec.kind == "log":
        return Log(names=names, source=source, lines=lines)
    raise DataError(f"expected difference or log, found {spec.kind!r}", where="data.transforms")


# --------------------------------------------------------------------------- scalers


class Scaler(_Named):
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
        x = _2d(X)
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
        x = _2d(X)
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
        self.n_columns_ = _2d(X).shape[1]
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
