"""Splitting the rows of a series into training, validation and test parts.

The split is on rows, made before anything is fitted::

    rows 0 .. n_fit-1        training (transforms and scaler are fitted here)
    rows n_fit .. n_train-1  validation (the end of the training part)
    rows n_train .. n-1      test

Training windows have every target in the training rows; validation windows
their first target in the validation rows and every target before the test
rows; test windows their first target in the test rows.
"""

from __future__ import annotations

import math

import numpy as np

from lstmctl.errors import DataError

__all__ = ["RowSplit", "part_size", "shortfall"]


def part_size(n_rows: int, part: int | float) -> int:
    """Rows in a part: an int is a count; a fraction f leaves ``floor(n * (1 - f))`` before it."""
    if isinstance(part, float) and not part.is_integer():
        # The small epsilon keeps e.g. 100 * (1 - 0.2) = 79.999... from losing a row.
        return n_rows - math.floor(n_rows * (1.0 - part) + 1e-9)
    return int(part)


class RowSplit:
    """Sizes of the parts of ``n_rows`` rows (``fit``) and which windows fall in each."""

    def __init__(self, test: int | float = 0.2, validation: int | float = 0) -> None:
        self.test = test
        self.validation = validation

    def fit(self, n_rows: int) -> RowSplit:
        n_test = part_size(n_rows, self.test)
        # test == 0 (no test part) is only asked for by `finalize`, which fits on
        # all the rows; the spec itself requires a test part.
        if (n_test < 1 and self.test != 0) or n_test >= n_rows:
            raise DataError(
                f"expected a test part smaller than the {n_rows} rows of data, "
                f"found {n_test} test rows ({_said(self.test)})",
                where="data.split.test",
            )
        n_train = n_rows - n_test
        n_val = part_size(n_train, self.validation) if self.validation else 0
        if not 0 <= n_val < n_train:  # a negative part would put training rows after it
            raise DataError(
                f"expected a validation part smaller than the {n_train} training rows, "
                f"found {n_val} ({_said(self.validation)})",
                where="data.split.validation",
            )
        self.n_rows_ = int(n_rows)
        self.n_test_ = int(n_test)
        self.n_train_ = int(n_train)  # everything before the test rows
        self.n_val_ = int(n_val)
        self.n_fit_ = int(n_train - n_val)  # the rows scalers are fitted on
        return self

    def check(self, lookback: int, horizon: int, lags: int = 0) -> None:
        """DataError unless every part can hold at least one window."""
        need = lags + lookback + horizon
        if self.n_fit_ < need:
            what = f"lookback {lookback} + horizon {horizon}"
            if lags:
                what += f" + differencing lag {lags}"
            raise DataError(
                f"{what} needs at least {need} training rows, found {self.n_fit_} "
                f"({self._layout()}); shorten the lookback or the test/validation part",
                where="data.window",
            )
        if self.n_val_ and self.n_val_ < horizon:
            raise DataError(
                f"horizon {horizon} needs at least {horizon} validation rows, found {self.n_val_}",
                where="data.split.validation",
            )
        if 0 < self.n_test_ < horizon:
            raise DataError(
                f"horizon {horizon} needs at least {horizon} test rows, found {self.n_test_}",
                where="data.split.test",
            )

    def assign(self, origins: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
        """Boolean masks over ``origins``: which windows are train, val and test."""
        first = np.asarray(origins, dtype=np.int64) + 1
        last = first + horizon - 1
        return {
            "train": last < self.n_fit_,
            "val": (first >= self.n_fit_) & (first < self.n_train_) & (last < self.n_train_),
            "test": (first >= self.n_train_) & (last < self.n_rows_),
        }

    def state(self) -> dict[str, int]:
        return {
            "total": self.n_rows_,
            "train": self.n_fit_,
            "validation": self.n_val_,
            "test": self.n_test_,
        }

    def _layout(self) -> str:
        parts = [f"{self.n_rows_} rows", f"last {self.n_test_} for test"]
        if self.n_val_:
            parts.append(f"{self.n_val_} before them for validation")
        return ", ".join(parts)


def shortfall(
    n_rows: int,
    test: int | float,
    validation: int | float,
    lookback: int,
    horizon: int,
    lags: int = 0,
) -> str:
    """Why ``n_rows`` rows are too few for the windows and parts asked for, in one
    clause ("" when they are enough): what falls short, the rows' layout, and the
    rows needed in all (look-back + horizon + test (+ validation), each part at
    least the horizon). A panel names each short series with it."""
    try:
        RowSplit(test, validation).fit(n_rows).check(lookback, horizon, lags)
    except DataError:
        pass
    else:
        return ""
    n_test = part_size(n_rows, test)
    n_val = part_size(max(n_rows - n_test, 0), validation) if validation else 0
    n_fit = max(n_rows - n_test - n_val, 0)
    terms = [f"lookback {lookback}", f"horizon {horizon}"]
    if lags:
        terms.append(f"differencing lag {lags}")
    fit_need = lags + lookback + horizon
    what = " + ".join(terms)
    # Each part holds at least one window: at least the horizon's rows.
    parts = {"test": max(n_test, horizon) if test else 0}
    parts["validation"] = max(n_val, horizon) if validation else 0
    for name, needed in parts.items():
        if needed:
            terms.append(f"{name} {needed}")
    total = fit_need + sum(parts.values())
    if n_test >= n_rows:
        layout = f"{n_rows} rows, {n_test} asked for test"
    else:
        layout = f"{n_rows} rows, last {n_test} for test"
        if n_val:
            layout += f", {n_val} before them for validation"
    if n_fit < fit_need:
        short = f"{what} needs at least {fit_need} training rows, found {n_fit}"
    elif validation and n_val < horizon:
        short = f"horizon {horizon} needs at least {horizon} validation rows, found {n_val}"
    else:
        short = f"horizon {horizon} needs at least {horizon} test rows, found {n_test}"
    return f"{short} ({layout}), so it needs at least {total} rows ({' + '.join(terms)})"


def _said(part: int | float) -> str:
    return f"{part:g} of the rows" if isinstance(part, float) else f"{part} rows"
