"""Scale-free metrics: MASE and RMSSE are 1 for the in-sample seasonal naive, sMAPE by hand."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from lstmctl.errors import RunError
from lstmctl.evaluation.baselines import forecast_baseline
from lstmctl.evaluation.metrics import mae
from lstmctl.evaluation.scaled import (
    mase,
    mase_by_target,
    per_step,
    rmsse,
    rmsse_by_target,
    seasonal_scale,
    smape,
)


def _training(rows: int = 48, season: int = 12) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(rows)
    a = 100 + t + 10 * np.sin(2 * np.pi * t / season) + rng.normal(0, 2, rows)
    b = 5 + rng.normal(0, 1, rows)
    return np.column_stack([a, b])


@pytest.mark.parametrize("metric", [mase, rmsse])
def test_in_sample_seasonal_naive_scores_exactly_one(metric: Callable[..., float]) -> None:
    y, m = _training(), 12
    origins = np.arange(m - 1, len(y) - 1)
    predicted = forecast_baseline("seasonal_naive", y, origins, 1, m)
    actual = y[origins + 1][:, None, :]
    assert metric(actual, predicted, y, m) == pytest.approx(1.0, abs=1e-12)


def test_scaled_errors_by_hand() -> None:
    insample = np.array([[1.0], [3.0], [2.0], [6.0]])  # season 1: |2|, |1|, |4| -> 7/3; sq 21/3
    actual = np.array([[[4.0], [5.0]]])
    predicted = np.array([[[5.0], [8.0]]])  # errors 1 and 3
    assert seasonal_scale(insample, 1)[0] == pytest.approx(7 / 3)
    assert mase(actual, predicted, insample, 1) == pytest.approx(2 / (7 / 3))
    assert rmsse(actual, predicted, insample, None) == pytest.approx(math.sqrt(5 / 7))
    # season 2: |2 - 1|, |6 - 3| -> 2
    assert mase(actual, predicted, insample, 2) == pytest.approx(1.0)


def test_columns_are_scaled_separately_then_averaged() -> None:
    insample = np.array([[0.0, 0.0], [1.0, 10.0], [0.0, 0.0]])  # scales 1 and 10
    actual = np.zeros((2, 1, 2))
    predicted = np.array([[[1.0, 10.0]], [[3.0, 30.0]]])
    np.testing.assert_allclose(mase_by_target(actual, predicted, insample, 1), [2.0, 2.0])
    assert mase(actual, predicted, insample, 1) == pytest.approx(2.0)
    np.testing.assert_allclose(rmsse_by_target(actual, predicted, insample, 1), [math.sqrt(5)] * 2)


def test_a_constant_training_part_gives_nan_for_that_column_only() -> None:
    insample = np.array([[3.0, 0.0], [3.0, 2.0], [3.0, 0.0]])
    actual = np.zeros((1, 1, 2))
    predicted = np.array([[[1.0, 4.0]]])
    by_target = mase_by_target(actual, predicted, insample, 1)
    assert math.isnan(by_target[0]) and by_target[1] == pytest.approx(2.0)
    assert mase(actual, predicted, insample, 1) == pytest.approx(2.0)
    assert math.isnan(rmsse(actual[..., :1], predicted[..., :1], insample[:, :1], 1))


def test_missing_training_values_are_skipped_in_the_scale() -> None:
    insample = np.array([[1.0], [np.nan], [2.0], [4.0]])
    assert seasonal_scale(insample, 1)[0] == pytest.approx(2.0)  # only 2 -> 4 is a pair
    assert math.isnan(seasonal_scale(insample, 5)[0])  # no pair a season apart


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(RunError, match="shape"):
        mase(np.zeros((2, 1, 1)), np.zeros((3, 1, 1)), np.arange(5.0), 1)
    with pytest.raises(RunError, match="2 targets"):
        mase(np.zeros((2, 1, 1)), np.zeros((2, 1, 1)), np.zeros((5, 2)), 1)


def test_smape_known_values() -> None:
    actual = np.array([100.0, 0.0, 50.0, -10.0])
    predicted = np.array([110.0, 0.0, 0.0, 10.0])
    # 2*10/210, 0/0 -> 0, 2*50/50 = 2, 2*20/20 = 2
    assert smape(actual, predicted) == pytest.approx(100 * (20 / 210 + 0 + 2 + 2) / 4)
    assert smape(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert smape(np.array([1.0]), np.array([-1.0])) == pytest.approx(200.0)


def test_per_step_scores_each_horizon_step() -> None:
    actual = np.zeros((3, 2, 1))
    predicted = np.array([[[1.0], [2.0]], [[1.0], [4.0]], [[1.0], [6.0]]])
    assert per_step(mae, actual, predicted) == pytest.approx([1.0, 4.0])
    insample = np.array([[0.0], [2.0], [0.0]])  # scale 2
    assert per_step(mase, actual, predicted, insample, 1) == pytest.approx([0.5, 2.0])
