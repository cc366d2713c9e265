"""Value transforms (differencing, log), each undoable (scalers: :mod:`lstmctl.data.scalers`).

Every object works on 2-D arrays ``(rows, columns)`` of float64, ignores NaN
when fitting and passes it through when transforming. Fitted state lives in
attributes ending in ``_`` and ``state()`` returns it as plain JSON-able numbers.

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
    from lstmctl.spec import TransformSpec

__all__ = ["Difference", "Log", "Named", "Transform", "make_transform", "transform_from_state"]


def as_2d(x: Any) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


class Named:
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


class Difference(Named):
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
        x = as_2d(X)
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
        x = as_2d(X)
        out = np.full_like(x, np.nan)
        out[self.lag :] = x[self.lag :] - x[: -self.lag]
        return out

    def inverse_transform(self, Z: Any, head: Any = None) -> np.ndarray:
        """Rebuild the series from its differences and its first ``lag`` values.

        ``head`` defaults to the first ``lag`` rows seen by ``fit`` (the series
        is assumed to start where the fitted one did).
        """
        z = as_2d(Z)
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
        before = as_2d(before)
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


class Log(Named):
    """Natural log; every (present) value must be > 0."""

    kind = "log"

    def fit(self, X: Any) -> Log:
        self.n_columns_ = as_2d(X).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        x = as_2d(X)
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
        return np.exp(as_2d(Z))

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
