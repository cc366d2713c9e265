"""Metrics, summaries over repeats, and skill relative to a baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmctl.evaluation.metrics import mae, mape, rmse, score
from lstmctl.evaluation.summary import relative_skill, summarize
from lstmctl.report.table import sparkline


def test_metrics_on_known_values() -> None:
    a = np.array([1.0, 2.0, 4.0])
    p = np.array([2.0, 2.0, 2.0])
    assert rmse(a, p) == pytest.approx(math.sqrt(5 / 3))
    assert mae(a, p) == pytest.approx(1.0)
    assert mape(a, p) == pytest.approx(100 * (1 + 0 + 0.5) / 3)
    assert mape(np.array([0.0, 2.0]), np.array([1.0, 1.0])) == pytest.approx(50.0)


def test_score_refuses_mismatched_shapes() -> None:
    with pytest.raises(Exception, match="shape"):
        score(["rmse"], np.zeros((3, 1, 1)), np.zeros((2, 1, 1)))


def test_summary_uses_sample_std_and_skips_failed_values() -> None:
    s = summarize([1.0, 2.0, 3.0, float("nan")])
    assert s["mean"] == 2.0 and s["median"] == 2.0
    assert s["std"] == pytest.approx(1.0)  # ddof=1, as pandas' describe()
    assert s["min"] == 1.0 and s["max"] == 3.0
    assert len(s["values"]) == 4


def test_relative_skill() -> None:
    assert relative_skill("rmse", 75.0, 100.0) == pytest.approx(0.25)
    assert relative_skill("rmse", 125.0, 100.0) == pytest.approx(-0.25)
    assert relative_skill("accuracy", 0.9, 0.5) == pytest.approx(0.8)
    assert relative_skill("rmse", 1.0, 0.0) is None


def test_sparkline_orders_values() -> None:
    line = sparkline([3.0, 1.0, 2.0])
    assert len(line) == 3 and line[0] == "▁" and line[-1] == "█"
