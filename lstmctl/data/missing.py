"""Missing values: drop the rows, fill them (forward or by interpolation), or mask them.

``MissingValues`` learns nothing from the values themselves (filling uses each
row's neighbours), so fitting it on the whole series before the split leaks
nothing the scaler could use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd

from lstmctl.errors import DataError

__all__ = ["MissingValues", "STRATEGIES"]

Strategy = Literal["drop", "ffill", "interpolate", "mask"]
STRATEGIES: tuple[str, ...] = ("drop", "ffill", "interpolate", "mask")


class MissingValues:
    """Handle missing values in the used columns of a frame.

    - ``drop``: drop every row with a missing value in any used column;
    - ``ffill``: carry the last value forward, then the first value backward;
    - ``interpolate``: linear between neighbours (numeric columns), the nearest
      value at the edges; categorical columns are filled forward then backward;
    - ``mask``: leave numeric values missing (the windows mask them later);
      categorical ones stay missing too.
    """

    def __init__(
        self,
        strategy: Strategy = "interpolate",
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        source: str = "data",
    ) -> None:
        self.strategy = strategy
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.source = source

    def fit(self, frame: pd.DataFrame) -> MissingValues:
        if self.strategy not in STRATEGIES:
            raise DataError(
                f"expected one of {', '.join(STRATEGIES)}, found {self.strategy!r}",
                where="data.missing",
            )
        cols = [*self.numeric, *self.categorical]
        for col in cols:
            if frame[col].isna().all():
                raise DataError(
                    f"expected some values, found all {len(frame)} rows missing",
                    where=f"{self.source}: column {col}",
                )
        self.columns_ = cols
        self.missing_counts_ = {c: int(frame[c].isna().sum()) for c in cols}
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A new frame; with ``drop`` it has fewer rows (the index keeps the rest's labels)."""
        cols = self.columns_
        out = frame.copy()
        if self.strategy == "drop":
            out = out.dropna(subset=cols)
            if out.empty:
                raise DataError(
                    "expected rows with every used column present, found none "
                    "(try data.missing: interpolate)",
                    where=self.source,
                )
            return out
        if self.strategy == "mask":
            return out
        if self.numeric:
            num = out[self.numeric]
            if self.strategy == "ffill":
                num = num.ffill().bfill()
            else:
                num = num.interpolate(method="linear", limit_direction="both")
            out[self.numeric] = num
        if self.categorical:
            out[self.categorical] = out[self.categorical].ffill().bfill()
        return out

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)

    def state(self) -> dict[str, object]:
        return {"strategy": self.strategy, "missing": dict(self.missing_counts_)}
