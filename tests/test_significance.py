"""The Diebold-Mariano test with the HLN correction, verdicts in words, share better."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from lstmctl.evaluation.significance import diebold_mariano, format_p, share_better, verdict


def _losses(seed: int = 0, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Squared errors of a good forecast and of a clearly worse one."""
    rng = np.random.default_rng(seed)
    good = rng.normal(0, 1, n) ** 2
    bad = rng.normal(0, 3, n) ** 2
    return good, bad


def test_hln_statistic_by_hand() -> None:
    # d = 1, 2, 4, 3, 5: mean 3, centred -2, -1, 1, 0, 2
    # gamma_0 = 10 / 5 = 2, gamma_1 = (2 - 1 + 0 + 0) / 5 = 0.2
    # h = 2: V = (2 + 2 * 0.2) / 5 = 0.48, DM = 3 / sqrt(0.48)
    # HLN: (n + 1 - 2h + h(h - 1) / n) / n = (5 + 1 - 4 + 0.4) / 5 = 0.48 -> DM* = 3
    loss_a = np.array([2.0, 3.0, 5.0, 4.0, 6.0])
    loss_b = np.ones(5)
    statistic, p = diebold_mariano(loss_a, loss_b, horizon=2)
    assert statistic == pytest.approx(3.0)
    assert p == pytest.approx(2 * stats.t.sf(3.0, df=4))
    # h = 1: V = 2 / 5, factor (5 + 1 - 2) / 5 = 0.8 -> DM* = 3 / sqrt(0.4) * sqrt(0.8)
    statistic, _ = diebold_mariano(loss_a, loss_b, horizon=1)
    assert statistic == pytest.approx(3 / math.sqrt(0.4) * math.sqrt(0.8))


def test_identical_forecasts_are_not_distinguishable() -> None:
    good, _ = _losses()
    assert diebold_mariano(good, good.copy()) == (0.0, 1.0)
    v = verdict(good, good.copy(), "seasonal_naive", 1)
    assert v["verdict"] == "not distinguishable from seasonal_naive (p = 1.00)"


def test_a_clearly_worse_forecast_is_detected_both_ways() -> None:
    good, bad = _losses()
    statistic, p = diebold_mariano(good, bad, horizon=1)
    assert statistic < 0 and p < 0.01
    assert verdict(good, bad, "ets", 1)["verdict"].startswith("better than ets (p ")
    worse = verdict(bad, good, "ets", 3)
    assert worse["verdict"].startswith("worse than ets (p ")
    assert worse["vs"] == "ets" and worse["test"] == "diebold-mariano (HLN)"
    assert worse["statistic"] > 0 and worse["p"] < 0.01


def test_similar_forecasts_are_not_distinguishable() -> None:
    a, _ = _losses(1)
    b, _ = _losses(2)
    v = verdict(a, b, "arima", 1)
    assert v["p"] > 0.05
    assert v["verdict"] == f"not distinguishable from arima ({format_p(v['p'])})"


def test_too_few_origins_cannot_be_tested() -> None:
    statistic, p = diebold_mariano(np.array([1.0, 2.0]), np.array([2.0, 1.0]))
    assert math.isnan(statistic) and math.isnan(p)
    # n = 3 with h = 3: the HLN factor (3 + 1 - 6 + 2) / 3 is 0
    assert math.isnan(diebold_mariano(np.arange(3.0), np.zeros(3), horizon=3)[1])
    v = verdict(np.array([1.0]), np.array([2.0]), "mean", 1)
    assert v["statistic"] is None and v["p"] is None
    assert v["verdict"] == "not testable against mean (too few forecasts)"


def test_a_constant_advantage_is_significant() -> None:
    statistic, p = diebold_mariano(np.ones(10), np.full(10, 2.0))
    assert statistic == -math.inf and p == 0.0


def test_losses_with_more_axes_are_averaged_per_origin() -> None:
    good, bad = _losses(n=30)
    per_origin = diebold_mariano(good, bad)
    stacked = diebold_mariano(np.stack([good, good], axis=1), np.stack([bad, bad], axis=1))
    assert stacked == pytest.approx(per_origin)


def test_p_values_are_written_with_enough_digits() -> None:
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(0.0031) == "p = 0.003"
    assert format_p(0.0496) == "p = 0.050"
    assert format_p(0.4) == "p = 0.40"


def test_share_better() -> None:
    assert share_better([1.0, 2.0, 3.0, float("nan")], 2.5) == 0.5
    assert math.isnan(share_better([], 1.0))
