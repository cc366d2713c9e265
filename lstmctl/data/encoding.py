"""One-hot encoding of categorical feature columns (fitted on the training rows)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder

from lstmctl.errors import DataError

__all__ = ["OneHot"]

# Stands in for a missing value when encoding; never a fitted category.
_MISSING = "\x00missing"


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
        self.categories_ = categories
        self.encoder_: OneHotEncoder | None = None
        if self.columns:
            self.encoder_ = OneHotEncoder(
                categories=[np.array(c, dtype=object) for c in categories],
                handle_unknown="ignore",
                sparse_output=False,
            ).fit(np.array([[c[0] for c in categories]], dtype=object))
        self.names_ = [
            f"{col}={v}" for col, cats in zip(self.columns, categories, strict=True) for v in cats
        ]
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Float64 array ``(len(frame), len(names_))``."""
        if self.encoder_ is None:
            return np.zeros((len(frame), 0), dtype=np.float64)
        values = frame[self.columns]
        missing = values.isna().to_numpy()
        text = values.astype(object).where(~missing, _MISSING).astype(str)
        with warnings.catch_warnings():
            # Unknown categories are expected here and encode as zeros.
            warnings.simplefilter("ignore", UserWarning)
            out = np.asarray(self.encoder_.transform(text.to_numpy(dtype=object)), dtype=np.float64)
        if self.missing_as_nan and missing.any():
            start = 0
            for j, cats in enumerate(self.categories_):
                rows = missing[:, j]
                out[rows, start : start + len(cats)] = np.nan
                start += len(cats)
        return out

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    def state(self) -> dict[str, Any]:
        return {col: list(cats) for col, cats in zip(self.columns, self.categories_, strict=True)}
