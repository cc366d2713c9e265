"""A panel's intervals: each series' scores floored and scaled by its own spread, one quantile."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstmctl.errors import LstmctlError, ModelDirError
from lstmctl.evaluation.intervals import Conformal
from lstmctl.evaluation.probabilistic import coverage, interval_scores
from lstmctl.serving.bands import Bands, for_steps

SCALES = {"small": 1.0, "large": 1000.0}
N_CAL, N_TEST = 2_000, 5_000


def _series(scale: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Members ``(10, n, 2, 1)`` and actuals ``(n, 2, 1)`` of one series in its own units.

    The members' spread varies from window to window and the error grows with
    it (noise sd = 3 x spread, spread about 10% of the scale): equal relative
    noise, whatever the scale.
    """
    level = scale * (5.0 + rng.standard_normal((n, 2, 1)))
    spread = scale * 0.1 * rng.uniform(0.5, 1.5, (n, 2, 1))
    members = level + spread * rng.standard_normal((10, n, 2, 1))
    actual = level + 3.0 * spread * rng.standard_normal((n, 2, 1))
    return members, actual


def _panel(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Both series' windows, grouped by series as a panel's are, and each window's id."""
    rng = np.random.default_rng(seed)
    parts = [_series(scale, n, rng) for scale in SCALES.values()]
    members = np.concatenate([m for m, _ in parts], axis=1)
    actual = np.concatenate([a for _, a in parts], axis=0)
    return members, actual, [sid for sid in SCALES for _ in range(n)]


@pytest.fixture(scope="module")
def panel() -> tuple[tuple[np.ndarray, np.ndarray, list[str]], tuple[np.ndarray, np.ndarray]]:
    cal = _panel(N_CAL, seed=0)
    test_members, test_actual, _ = _panel(N_TEST, seed=1)
    return cal, (test_members, test_actual)


def _coverage_per_series(c: Conformal, members: np.ndarray, actual: np.ndarray, **kw: object):
    lo, hi = c.interval(members, 0.8, **kw)  # type: ignore[arg-type]
    return {
        sid: coverage(
            actual[i * N_TEST : (i + 1) * N_TEST],
            *(b[i * N_TEST : (i + 1) * N_TEST] for b in (lo, hi)),
        )
        for i, sid in enumerate(SCALES)
    }


def test_each_series_is_covered_at_the_level_whatever_its_scale(panel) -> None:
    (members, actual, series), (test_members, test_actual) = panel
    c = Conformal().fit(members, actual, [0.8, 0.95], series)
    test_series = [sid for sid in SCALES for _ in range(N_TEST)]
    found = _coverage_per_series(c, test_members, test_actual, series=test_series)
    for sid, cov in found.items():
        assert abs(cov - 0.8) < 0.03, (sid, found)
    assert abs(coverage(test_actual, *c.interval(test_members, 0.8, test_series)) - 0.8) < 0.02
    # The floors are each series' own, 1000 times apart as the series are.
    ratio = c.series_floor_["large"] / c.series_floor_["small"]
    assert np.allclose(ratio, 1000.0, rtol=0.1)


def test_one_floor_for_all_series_misses_the_large_one(panel) -> None:
    """The defect this fixes: pooled in their own units, the small series' scores are tiny."""
    (members, actual, _), (test_members, test_actual) = panel
    found = _coverage_per_series(Conformal().fit(members, actual, [0.8]), test_members, test_actual)
    assert found["small"] > 0.99 and found["large"] < 0.7


def test_one_series_named_gives_exactly_the_unnamed_result(panel) -> None:
    (members, actual, _), (test_members, _) = panel
    plain = Conformal().fit(members[:, :N_CAL], actual[:N_CAL], [0.8, 0.95])
    named = Conformal().fit(members[:, :N_CAL], actual[:N_CAL], [0.8, 0.95], ["a"] * N_CAL)
    assert np.array_equal(plain.quantiles_, named.quantiles_)
    assert np.array_equal(plain.floor_, named.series_floor_["a"])
    for level in (0.8, 0.95):
        assert np.array_equal(
            plain.interval(test_members, level), named.interval(test_members, level, "a")
        )
    assert "series_floor" not in plain.state()  # a one-series state is as it was


def test_the_per_series_state_round_trips_keyed_by_series(panel) -> None:
    (members, actual, series), (test_members, _) = panel
    c = Conformal().fit(members, actual, [0.8], series)
    state = json.loads(json.dumps(c.state()))
    assert set(state["series_floor"]) == {"small", "large"}
    back = Conformal.from_state(state)
    for sid in SCALES:
        assert np.array_equal(
            back.interval(test_members, 0.8, sid), c.interval(test_members, 0.8, sid)
        )


def test_a_per_series_calibrator_needs_known_series(panel) -> None:
    (members, actual, series), (test_members, _) = panel
    c = Conformal().fit(members, actual, [0.8], series)
    with pytest.raises(LstmctlError, match="series of the windows"):
        c.interval(test_members, 0.8)
    with pytest.raises(LstmctlError, match="found 'other'"):
        c.interval(test_members, 0.8, "other")
    with pytest.raises(LstmctlError, match="each of"):
        Conformal().fit(members, actual, [0.8], series[:-1])


def test_interval_scores_take_the_series(panel) -> None:
    (members, actual, series), (test_members, test_actual) = panel
    c = Conformal().fit(members, actual, [0.8], series)
    test_series = [sid for sid in SCALES for _ in range(N_TEST)]
    scores = interval_scores(test_actual, test_members, c, series=test_series)
    assert abs(scores["0.8"]["coverage"] - 0.8) < 0.02


def _doc(c: Conformal, members: np.ndarray, actual: np.ndarray, series: list[str] | None):
    windows = {"held_out": 1, "members": members.tolist(), "actual": actual.tolist()}
    if series is not None:
        windows["series"] = series
    return json.loads(json.dumps({"format_version": 1, "state": c.state(), "windows": windows}))


def test_saved_bands_apply_each_series_floor_at_any_level_and_step() -> None:
    members, actual, series = _panel(200, seed=2)
    c = Conformal().fit(members, actual, [0.8], series)
    bands = Bands(_doc(c, members, actual, series), "intervals.json")
    one = members[:, :3]
    saved = bands.calibrator([0.8])
    assert np.array_equal(
        bands.bounds(saved, one, 0.8, "small")[0], c.interval(one, 0.8, "small")[0]
    )
    # Another level is calibrated per series on the saved windows.
    again = bands.calibrator([0.7])
    assert again.series_floor_ and np.array_equal(
        again.series_floor_["large"], c.series_floor_["large"]
    )
    # Steps beyond the horizon take the last step's floor of that series.
    longer = for_steps(c, 4)
    assert np.array_equal(longer.series_floor_["large"][2:], c.series_floor_["large"][[1, 1]])
    lo, hi = bands.bounds(saved, np.concatenate([one, one], axis=2), 0.8, "large")
    assert lo.shape == (3, 4, 1) and (hi >= lo).all()


def test_an_old_intervals_json_loads_and_predicts_as_before() -> None:
    """Saved before per-series floors: one floor for every series, the series ignored."""
    members, actual, _ = _panel(200, seed=3)
    c = Conformal().fit(members, actual, [0.8])
    doc = _doc(c, members, actual, None)
    assert "series_floor" not in doc["state"] and "series" not in doc["windows"]
    bands = Bands(doc, "intervals.json")
    one = members[:, :3]
    for levels in ([0.8], [0.9]):
        cal = bands.calibrator(levels)
        assert np.array_equal(
            bands.bounds(cal, one, levels[0], "small")[0], bands.bounds(cal, one, levels[0])[0]
        )
    assert np.array_equal(
        bands.bounds(bands.calibrator([0.8]), one, 0.8)[1], c.interval(one, 0.8)[1]
    )


def test_per_series_floors_without_the_windows_series_are_refused() -> None:
    members, actual, series = _panel(50, seed=4)
    c = Conformal().fit(members, actual, [0.8], series)
    with pytest.raises(ModelDirError, match="series of each"):
        Bands(_doc(c, members, actual, None), "intervals.json")
