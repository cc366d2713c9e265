"""One-hot encoding of categorical feature columns (fitted on the training rows).

Plain numpy and pandas (no scikit-learn): ``predict`` applies the same encoder,
restored with ``OneHot.from_state``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lstmctl.errors import DataError

__all__ = ["OneHot"]


class OneHot:
    """One-hot encode ``columns`` with the categories seen in the rows it is fitted on.

    A category not seen when fitting encodes as an all-zero row. A missing value
    encodes as all zeros too, or as NaN in every column of its group with
    ``missing_as_nan`` (so masking can hide it). Output names read ``column=value``.
    """

    def __init__(
        self, columns: Sequence[str] = (), missing_as_nan: bool = False, source: str = "data"
    ) -> None:
        self.columns = list(columns)
        self.missing_as_nan = missing_as_nan
        self.source = source

    def fit(self, frame: pd.DataFrame) -> OneHot:
        categories: list[list[str]] = []
        for col in self.columns:
            seen = frame[col].dropna().astype(str)
            if seen.empty:
                raise DataError(
                    f"expected some values in the {len(frame)} training rows, found none",
                    where=f"{self.source}: column {col}",
                )
            categories.append(sorted(seen.unique().tolist()))
        self._fitted(categories)
        return self

    def _fitted(self, categories: list[list[str]]) -> None:
        self.categories_ = categories
        self.names_ = [
            f"{col}={v}" for col, cats in zip(self.columns, categories, strict=True) for v in cats
        ]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Float64 array ``(len(frame), len(names_))``."""
        blocks = [np.zeros((len(frame), 0), dtype=np.float64)]
        for col, cats in zip(self.columns, self.categories_, strict=True):
            values = frame[col]
            missing = values.isna().to_numpy()
            text = values.astype(object).where(~missing, "").astype(str).to_numpy(dtype=object)
            # An unknown category matches none of the fitted ones: all zeros.
            block = (text[:, None] == np.asarray(cats, dtype=object)[None, :]).astype(np.float64)
            block[missing] = np.nan if self.missing_as_nan else 0.0
            blocks.append(block)
        return np.hstack(blocks)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    def state(self) -> dict[str, Any]:
        return {col: list(cats) for col, cats in zip(self.columns, self.categories_, strict=True)}

    @classmethod
    def from_state(
        cls, state: Mapping[str, Sequence[Any]], missing_as_nan: bool = False, source: str = "data"
    ) -> OneHot:
        """The fitted encoder as ``state()`` saved it."""
        out = cls(list(state), missing_as_nan=missing_as_nan, source=source)
        out._fitted([[str(v) for v in cats] for cats in state.values()])
        return out
