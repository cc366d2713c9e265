"""The repeats as an ensemble: point forecast, split-conformal intervals, probabilistic scores."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from conftest import ROOT

from lstmctl.errors import LstmctlError, ModelDirError
from lstmctl.evaluation.intervals import Conformal, level_key, min_windows
from lstmctl.evaluation.member_stats import ensemble, ensemble_spread
from lstmctl.evaluation.probabilistic import (
    coverage,
    coverage_per_step,
    crps_ensemble,
    interval_scores,
    mean_width,
    pinball,
    winkler,
)

PHI = 0.7
CAL = slice(0, 2_000)
TEST = slice(2_000, 12_000)


def _ar1(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.random.Generator]:
    """y_t = 0.7 y_{t-1} + e_t with standard normal noise."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = PHI * y[t - 1] + e[t]
    return y, rng


def _ar1_problem(horizon: int, members: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Members forecasting an AR(1) with slightly wrong coefficients, by iterating.

    Member i forecasts phi_i^k * y_t for step k, phi_i = 0.7 + N(0, 0.02): their
    spread (about 0.02 |y_t|) is a small fraction of the noise (sd 1), so the
    raw members' range badly understates the error. Returns members
    ``(R, n, horizon, 1)`` and actuals ``(n, horizon, 1)``.
    """
    y, rng = _ar1()
    phis = PHI + rng.normal(0.0, 0.02, members)
    n = len(y) - horizon
    steps = np.arange(1, horizon + 1)
    member = phis[:, None, None] ** steps[None, None, :] * y[None, :n, None]
    actual = np.stack([y[k : n + k] for k in steps], axis=-1)
    return member[..., None], actual[..., None]


@pytest.fixture(scope="module")
def one_step() -> tuple[np.ndarray, np.ndarray]:
    return _ar1_problem(horizon=1)


@pytest.fixture(scope="module")
def three_step() -> tuple[np.ndarray, np.ndarray]:
    return _ar1_problem(horizon=3)


@pytest.mark.parametrize("normalized", [True, False], ids=["normalized", "plain"])
def test_calibrated_coverage_on_ar1(
    one_step: tuple[np.ndarray, np.ndarray], normalized: bool
) -> None:
    members, actual = one_step
    c = Conformal(normalized=normalized).fit(members[:, CAL], actual[CAL], [0.8, 0.95])
    assert c.too_few_ == {} and c.warnings_ == []
    lo, hi = c.interval(members[:, TEST], 0.8)
    assert coverage(actual[TEST], lo, hi) == pytest.approx(0.80, abs=0.02)
    lo, hi = c.interval(members[:, TEST], 0.95)
    assert coverage(actual[TEST], lo, hi) == pytest.approx(0.95, abs=0.01)


def test_the_members_range_alone_covers_far_less(one_step: tuple[np.ndarray, np.ndarray]) -> None:
    # Why calibration matters: seed-to-seed spread is not forecast error.
    members, actual = one_step
    raw = coverage(actual[TEST], members[:, TEST].min(axis=0), members[:, TEST].max(axis=0))
    assert raw < 0.3


@pytest.mark.parametrize("normalized", [True, False], ids=["normalized", "plain"])
def test_each_horizon_step_is_calibrated(
    three_step: tuple[np.ndarray, np.ndarray], normalized: bool
) -> None:
    # One quantile pooled over the steps would cover about 0.87 / 0.78 / 0.75 here (plain).
    members, actual = three_step
    c = Conformal(normalized=normalized).fit(members[:, CAL], actual[CAL], [0.8, 0.95])
    for level in (0.8, 0.95):
        lo, hi = c.interval(members[:, TEST], level)
        steps = coverage_per_step(actual[TEST], lo, hi)
        assert len(steps) == 3
        assert steps == pytest.approx([level] * 3, abs=0.03)
    # The error grows with the step (variance 1, 1.49, 1.73), and so must the intervals.
    lo, hi = c.interval(members[:, TEST], 0.8)
    widths = [mean_width(lo[:, k], hi[:, k]) for k in range(3)]
    assert widths[0] < widths[1] < widths[2]


def test_ensemble_is_the_mean_and_spread_the_sample_std() -> None:
    members = np.array([[1.0, 10.0], [2.0, 10.0], [6.0, 10.0]])
    assert ensemble(members) == pytest.approx([3.0, 10.0])
    assert ensemble_spread(members) == pytest.approx([math.sqrt((4 + 1 + 9) / 2), 0.0])


def test_identical_members_give_the_member_and_plain_residual_intervals(
    one_step: tuple[np.ndarray, np.ndarray],
) -> None:
    members, actual = one_step
    same = np.repeat(PHI * members[:1], 5, axis=0)  # five repeats, one answer
    assert np.array_equal(ensemble(same), same[0])
    c = Conformal().fit(same[:, CAL], actual[CAL], [0.8, 0.95])
    assert not c.scaled_.any()
    lo, hi = c.interval(same[:, TEST], 0.8)
    assert np.isfinite(lo).all() and np.isfinite(hi).all()
    assert np.allclose(hi - lo, (hi - lo)[0])  # one width: nothing to tell windows apart
    assert coverage(actual[TEST], lo, hi) == pytest.approx(0.80, abs=0.02)


def test_one_window_without_spread_stays_finite() -> None:
    rng = np.random.default_rng(3)
    members = rng.normal(size=(4, 50, 1, 1))
    members[:, 7] = 1.0  # the members agree exactly on one window
    actual = rng.normal(size=(50, 1, 1))
    c = Conformal().fit(members, actual, [0.8])
    assert np.isfinite(c.quantiles_).all()
    lo, hi = c.interval(members, 0.8)
    assert hi[7, 0, 0] - lo[7, 0, 0] > 0.0


def test_the_quantile_is_the_corrected_order_statistic() -> None:
    # Ten windows, plain residuals 1..10: the level-q score is the ceil(11 q)-th smallest,
    # 6 for 50% and 9 for 80% (ceil(10 q) would give 5 and 8, linear interpolation 5.5, 8.2).
    members = np.zeros((2, 10, 1, 1))
    actual = (np.arange(1.0, 11.0) * (-1.0) ** np.arange(10)).reshape(10, 1, 1)
    c = Conformal().fit(members, actual, [0.5, 0.8])
    assert c.quantiles_[:, 0, 0].tolist() == [6.0, 9.0]
    lo, hi = c.interval(members, 0.8)
    assert np.all(lo == -9.0) and np.all(hi == 9.0)


def test_the_rank_survives_floating_point() -> None:
    # 100 * 0.55 is 55.00000000000001 in floating point; the rank is still 55.
    members = np.zeros((1, 99, 1, 1))
    actual = np.arange(1.0, 100.0).reshape(99, 1, 1)
    assert Conformal().fit(members, actual, [0.55]).quantiles_[0, 0, 0] == 55.0


def test_intervals_bracket_the_centre_and_nest(one_step: tuple[np.ndarray, np.ndarray]) -> None:
    members, actual = one_step
    c = Conformal().fit(members[:, CAL], actual[CAL], [0.95, 0.5, 0.8])
    assert c.levels_ == [0.5, 0.8, 0.95]
    center = ensemble(members[:, TEST])
    lo80, hi80 = c.interval(members[:, TEST], 0.8)
    lo95, hi95 = c.interval(members[:, TEST], 0.95)
    assert np.all(lo80 <= center) and np.all(center <= hi80)
    assert np.all(lo95 <= lo80) and np.all(hi80 <= hi95)
    assert np.all(np.diff(c.quantiles_, axis=0) >= 0)


def test_scores_on_hand_computed_values() -> None:
    y = np.array([0.0, 5.0, -3.0, 1.0])
    lo = np.array([-1.0, 0.0, -2.0, 1.0])
    hi = np.array([1.0, 4.0, 2.0, 3.0])
    assert coverage(y, lo, hi) == pytest.approx(0.5)  # the edge (y = lo) counts as inside
    assert mean_width(lo, hi) == pytest.approx((2 + 4 + 4 + 2) / 4)
    # alpha = 0.2: misses of 1 (above 4) and 1 (below -2) cost 2/0.2 = 10 each.
    assert winkler(y, lo, hi, 0.8) == pytest.approx((2 + (4 + 10) + (4 + 10) + 2) / 4)
    # tau = 0.9: under-forecasts cost 0.9 per unit, over-forecasts 0.1.
    assert pinball(y, hi, 0.9) == pytest.approx((0.1 * 1 + 0.9 * 1 + 0.1 * 5 + 0.1 * 2) / 4)
    per_step = coverage_per_step(y.reshape(2, 2, 1), lo.reshape(2, 2, 1), hi.reshape(2, 2, 1))
    assert per_step == pytest.approx([0.5, 0.5])


def test_crps_of_one_member_is_the_absolute_error() -> None:
    x = np.array([[1.0, -2.0, 4.0]])
    y = np.array([3.0, -2.0, 0.0])
    assert crps_ensemble(x, y) == pytest.approx((2 + 0 + 4) / 3)


def test_crps_of_three_members_by_hand() -> None:
    # Members 0, 1, 3 and y = 2: mean|X - y| = 4/3; mean|X - X'| over 9 pairs = 12/9.
    assert crps_ensemble(np.array([[0.0], [1.0], [3.0]]), np.array([2.0])) == pytest.approx(
        4 / 3 - 0.5 * 12 / 9
    )


def test_crps_matches_the_all_pairs_formula() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 20, 2, 3))
    y = rng.normal(size=(20, 2, 3))
    x[2] = np.nan  # a failed repeat
    kept = np.delete(x, 2, axis=0)
    direct = np.abs(kept - y).mean(0) - 0.5 * np.abs(kept[:, None] - kept[None]).mean((0, 1))
    assert crps_ensemble(x, y) == pytest.approx(direct.mean())


def test_state_round_trips_through_json(three_step: tuple[np.ndarray, np.ndarray]) -> None:
    members, actual = three_step
    c = Conformal().fit(members[:, :500], actual[:500], [0.8, 0.95, 0.99])
    back = Conformal.from_state(json.loads(json.dumps(c.state())))
    assert back.state() == c.state()
    for level in (0.8, 0.95, 0.99):
        for a, b in zip(
            c.interval(members[:, 600:700], level),
            back.interval(members[:, 600:700], level),
            strict=True,
        ):
            assert np.array_equal(a, b)


def test_a_damaged_state_is_refused() -> None:
    c = Conformal().fit(np.zeros((2, 30, 1, 1)), np.ones((30, 1, 1)), [0.8])
    state = c.state()
    del state["quantiles"]
    with pytest.raises(ModelDirError, match="damaged"):
        Conformal.from_state(state)
    with pytest.raises(ModelDirError, match="version"):
        Conformal.from_state({**c.state(), "version": 99})


def test_a_failed_repeat_is_ignored(one_step: tuple[np.ndarray, np.ndarray]) -> None:
    members, actual = one_step
    good = members[:5, :3_000]
    with_failed = np.concatenate([good[:2], np.full_like(good[:1], np.nan), good[2:]])
    with_failed[0, 10] = np.inf  # and one window where a repeat diverged
    part = np.delete(good, 0, axis=0)[:, 10]
    assert np.allclose(ensemble(with_failed)[10], ensemble(part))
    assert np.allclose(ensemble(with_failed)[11:], ensemble(good)[11:])
    c_good = Conformal().fit(good[:, :2_000], actual[:2_000], [0.8])
    c_failed = Conformal().fit(with_failed[:, :2_000], actual[:2_000], [0.8])
    lo, hi = c_failed.interval(with_failed[:, 2_000:], 0.8)
    assert np.isfinite(lo).all() and np.isfinite(hi).all()
    assert np.allclose(
        c_failed.interval(good[:, 2_000:], 0.8), c_good.interval(good[:, 2_000:], 0.8), rtol=1e-3
    )
    assert math.isfinite(crps_ensemble(with_failed, actual[:3_000]))


def test_too_few_calibration_windows_are_flagged() -> None:
    rng = np.random.default_rng(2)
    members = rng.normal(size=(3, 10, 1, 1))
    actual = rng.normal(size=(10, 1, 1))
    c = Conformal(normalized=False).fit(members, actual, [0.8, 0.95])
    assert c.too_few_ == {"0.95": 19}
    assert len(c.warnings_) == 1 and "19" in c.warnings_[0]
    largest = np.abs(actual - ensemble(members)).max()
    assert c.quantiles_[1, 0, 0] == pytest.approx(largest)
    enough = Conformal().fit(rng.normal(size=(3, 19, 1, 1)), rng.normal(size=(19, 1, 1)), [0.95])
    assert enough.too_few_ == {}


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 0.7, 0.85])
def test_min_windows_is_the_first_finite_rank(level: float) -> None:
    exact = Fraction(str(level))

    def finite(n: int) -> bool:
        return math.ceil((n + 1) * exact) <= n

    need = min_windows(level)
    assert finite(need) and not finite(need - 1)


def test_interval_scores_are_keyed_by_level(one_step: tuple[np.ndarray, np.ndarray]) -> None:
    members, actual = one_step
    c = Conformal().fit(members[:, CAL], actual[CAL], [0.8, 0.95])
    scores = interval_scores(actual[TEST], members[:, TEST], c)
    assert list(scores) == ["0.8", "0.95"] == [level_key(0.8), level_key(0.95)]
    lo, hi = c.interval(members[:, TEST], 0.95)
    assert scores["0.95"] == pytest.approx(
        {
            "coverage": coverage(actual[TEST], lo, hi),
            "width": mean_width(lo, hi),
            "winkler": winkler(actual[TEST], lo, hi, 0.95),
            "pinball_lo": pinball(actual[TEST], lo, 0.025),
            "pinball_hi": pinball(actual[TEST], hi, 0.975),
        }
    )
    assert all(isinstance(v, float) for s in scores.values() for v in s.values())


def test_refusals_say_what_was_expected() -> None:
    members, actual = np.zeros((2, 30, 2, 1)), np.zeros((30, 2, 1))
    with pytest.raises(LstmctlError, match="shape"):
        Conformal().fit(members, np.zeros((30, 3, 1)), [0.8])
    with pytest.raises(LstmctlError, match=r"\(0, 1\)"):
        Conformal().fit(members, actual, [80])
    with pytest.raises(LstmctlError, match="fit"):
        Conformal().interval(members, 0.8)
    c = Conformal().fit(members, actual, [0.8])
    with pytest.raises(LstmctlError, match="calibrated: 0.8"):
        c.interval(members, 0.9)
    with pytest.raises(LstmctlError, match="expected member forecasts"):
        c.interval(np.zeros((2, 5, 3, 1)), 0.8)
    with pytest.raises(LstmctlError, match="none of the 2 repeats"):
        ensemble(np.full((2, 3), np.nan))


def test_importing_the_module_loads_no_heavy_library() -> None:
    probe = (
        "import sys, lstmctl.evaluation.intervals, lstmctl.evaluation.probabilistic; "
        "print(','.join(m for m in ('scipy', 'sklearn', 'tensorflow', 'keras', 'jax', 'torch',"
        " 'pandas') if m in sys.modules))"
    )
    p = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ""
