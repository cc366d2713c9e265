"""Windowing (framing as supervised learning) and the row split."""

from __future__ import annotations

import numpy as np
import pytest

from lstmctl.data.splits import RowSplit, part_size
from lstmctl.data.windows import Windower, make_windows
from lstmctl.errors import DataError


def test_univariate_windows_contents() -> None:
    x = np.arange(10.0)
    X, y, origins = make_windows(x, x, lookback=3, horizon=2)
    # Origins 2 .. 7 (the last window's targets are rows 8 and 9).
    np.testing.assert_array_equal(origins, np.arange(2, 8))
    assert X.shape == (6, 3, 1) and y.shape == (6, 2, 1)
    assert X.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_array_equal(X[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(y[0, :, 0], [3, 4])
    np.testing.assert_array_equal(X[-1, :, 0], [5, 6, 7])
    np.testing.assert_array_equal(y[-1, :, 0], [8, 9])


def test_multivariate_windows_shapes_and_columns() -> None:
    n = 20
    inputs = np.column_stack([np.arange(n), 100 + np.arange(n), 200 + np.arange(n)]).astype(float)
    targets = inputs[:, :2]
    X, y, origins = make_windows(inputs, targets, lookback=4, horizon=3)
    assert X.shape == (n - 4 - 3 + 1, 4, 3)
    assert y.shape == (n - 4 - 3 + 1, 3, 2)
    o = int(origins[5])
    np.testing.assert_array_equal(X[5], inputs[o - 3 : o + 1])
    np.testing.assert_array_equal(y[5], targets[o + 1 : o + 4])


def test_windows_with_missing_values_are_left_out() -> None:
    x = np.arange(12.0)
    x[5] = np.nan
    _, y, origins = make_windows(x, x, lookback=2, horizon=1)
    # Row 5 can be neither an input (origins 5, 6) nor a target (origin 4).
    assert set(origins.tolist()).isdisjoint({4, 5, 6})
    assert len(origins) == 10 - 3
    assert not np.isnan(y).any()
    # Missing inputs allowed (masking): only the window predicting row 5 goes.
    _, _, masked = Windower(2, 1, allow_missing_inputs=True).fit().transform(x, x)
    assert 4 not in masked and 5 in masked and 6 in masked


def test_too_short_for_any_window() -> None:
    X, y, origins = make_windows(np.arange(3.0), np.arange(3.0), lookback=3, horizon=1)
    assert X.shape == (0, 3, 1) and y.shape == (0, 1, 1) and origins.size == 0


def test_fraction_split_counts() -> None:
    assert part_size(144, 0.33) == 48  # "first 67% train": floor(144 * 0.67) = 96
    assert part_size(100, 0.2) == 20
    sp = RowSplit(test=0.33).fit(144)
    assert (sp.n_train_, sp.n_test_, sp.n_val_, sp.n_fit_) == (96, 48, 0, 96)


def test_int_split_with_validation_counts() -> None:
    sp = RowSplit(test=12, validation=6).fit(36)
    assert (sp.n_fit_, sp.n_val_, sp.n_test_) == (18, 6, 12)
    assert sp.state() == {"total": 36, "train": 18, "validation": 6, "test": 12}
    frac = RowSplit(test=0.2, validation=0.25).fit(100)
    assert (frac.n_fit_, frac.n_val_, frac.n_test_) == (60, 20, 20)


def test_assign_horizon_one_gives_one_test_window_per_test_row() -> None:
    sp = RowSplit(test=12, validation=6).fit(36)
    origins = np.arange(0, 35)
    parts = sp.assign(origins, horizon=1)
    np.testing.assert_array_equal(origins[parts["test"]] + 1, np.arange(24, 36))
    np.testing.assert_array_equal(origins[parts["val"]] + 1, np.arange(18, 24))
    np.testing.assert_array_equal(origins[parts["train"]] + 1, np.arange(1, 18))


def test_assign_multi_step_origins() -> None:
    sp = RowSplit(test=10, validation=5).fit(50)
    h = 3
    origins = np.arange(0, 50 - h)
    parts = sp.assign(origins, horizon=h)
    # Test origins n_train-1 .. n_rows-H-1.
    np.testing.assert_array_equal(origins[parts["test"]], np.arange(39, 47))
    # Validation: first target in rows 35..39, every target before row 40.
    np.testing.assert_array_equal(origins[parts["val"]], np.arange(34, 37))
    assert (origins[parts["train"]] + h < 35).all()
    assert not (parts["train"] & parts["val"]).any()


def test_too_few_rows_says_needed_and_found() -> None:
    sp = RowSplit(test=12).fit(36)
    with pytest.raises(DataError) as e:
        sp.check(lookback=50, horizon=1, lags=1)
    assert "lookback 50 + horizon 1" in e.value.message
    assert "needs at least 52 training rows, found 24" in e.value.message
    sp.check(lookback=1, horizon=1, lags=1)  # the shampoo setup fits


def test_test_part_too_big_or_too_short() -> None:
    with pytest.raises(DataError, match="smaller than the 10 rows"):
        RowSplit(test=10).fit(10)
    with pytest.raises(DataError, match="needs at least 3 test rows, found 2"):
        RowSplit(test=2).fit(30).check(lookback=1, horizon=3)
    with pytest.raises(DataError, match="needs at least 3 validation rows, found 2"):
        RowSplit(test=5, validation=2).fit(30).check(lookback=1, horizon=3)
