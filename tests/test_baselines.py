"""Statistical baselines: hand-checked closed forms, no look-ahead, ets/arima sanity."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from lstmctl.errors import DataError
from lstmctl.evaluation import fitted_baselines
from lstmctl.evaluation.baselines import FITTED, SEASONAL, forecast_baseline
from lstmctl.spec.vocabulary import FORECAST_BASELINES

# 1, 2, 3, 4, 5 then 10: a tiny series small enough to check by hand.
TINY = np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [10.0]])


def _seasonal_series(n: int = 40, season: int = 4) -> np.ndarray:
    """A positive, trending seasonal series with noise, two target columns."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    a = 50 + 0.5 * t + 5 * np.sin(2 * np.pi * t / season) + rng.normal(0, 0.5, n)
    b = 20 - 0.2 * t + 3 * np.cos(2 * np.pi * t / season) + rng.normal(0, 0.5, n)
    return np.column_stack([a, b])


def test_persistence_repeats_the_last_value() -> None:
    f = forecast_baseline("persistence", TINY, np.array([2, 5]), 3, None)
    assert f.shape == (2, 3, 1)
    assert f[:, :, 0].tolist() == [[3, 3, 3], [10, 10, 10]]


def test_seasonal_naive_repeats_last_season_beyond_one_season() -> None:
    # season 2, origin 3 (values ... 3, 4): steps 1..5 -> 3, 4, 3, 4, 3
    f = forecast_baseline("seasonal_naive", TINY, np.array([3, 5]), 5, 2)
    assert f[0, :, 0].tolist() == [3, 4, 3, 4, 3]
    assert f[1, :, 0].tolist() == [5, 10, 5, 10, 5]


def test_seasonal_naive_with_season_one_is_persistence() -> None:
    f = forecast_baseline("seasonal_naive", TINY, np.array([4]), 3, 1)
    assert f[0, :, 0].tolist() == [5, 5, 5]


def test_drift_extends_the_line_from_first_to_last() -> None:
    # origin 5: last 10, first 1, n = 6 -> slope 9 / 5
    f = forecast_baseline("drift", TINY, np.array([0, 5]), 2, None)
    assert f[0, :, 0].tolist() == [1, 1]  # one value: no slope
    assert f[1, :, 0] == pytest.approx([10 + 1.8, 10 + 3.6])


def test_mean_is_the_mean_up_to_the_origin() -> None:
    f = forecast_baseline("mean", TINY, np.array([1, 5]), 2, None)
    assert f[:, :, 0].tolist() == [[1.5, 1.5], [25 / 6, 25 / 6]]


def test_missing_values_are_carried_forward() -> None:
    history = np.array([[np.nan], [2.0], [np.nan], [4.0], [np.nan]])
    at = np.array([2, 4])
    assert forecast_baseline("persistence", history, at, 1, None)[:, 0, 0].tolist() == [2, 4]
    assert forecast_baseline("mean", history, at, 1, None)[:, 0, 0].tolist() == [2, 3]
    # first observed value is row 1 (2.0); at origin 4 the carried value is 4.0
    assert forecast_baseline("drift", history, at, 1, None)[1, 0, 0] == pytest.approx(4 + 2 / 3)


def test_seasonal_naive_needs_a_season() -> None:
    for season in (None, 0):
        with pytest.raises(DataError, match="seasonal period"):
            forecast_baseline("seasonal_naive", TINY, np.array([5]), 1, season)
    with pytest.raises(DataError, match="full season"):
        forecast_baseline("seasonal_naive", TINY, np.array([1]), 1, 4)


def test_bad_arguments_are_data_errors() -> None:
    with pytest.raises(DataError, match="persistence"):
        forecast_baseline("prophet", TINY, np.array([1]), 1, None)
    with pytest.raises(DataError, match="origins in 0..5"):
        forecast_baseline("mean", TINY, np.array([6]), 1, None)
    with pytest.raises(DataError, match="horizon"):
        forecast_baseline("mean", TINY, np.array([1]), 0, None)


def test_the_seasonal_and_fitted_baselines_are_known_ones() -> None:
    assert set(FORECAST_BASELINES) >= SEASONAL | FITTED


@pytest.mark.parametrize("name", FORECAST_BASELINES)
def test_no_look_ahead(name: str) -> None:
    """Changing the history after an origin leaves that origin's forecast unchanged."""
    series = _seasonal_series(32)
    series = series[:, :1] if name in FITTED else series  # two columns where they are cheap
    origins = np.array([23, 27])
    # ARIMA's model search is the slow part: fit at the first origin, update at the second
    # (ETS covers the refit at every origin).
    every = {"refit_every": 2} if name == "arima" else {}
    before = forecast_baseline(name, series, origins, 3, 4, **every)
    assert before.shape == (2, 3, series.shape[1]) and np.isfinite(before).all()
    changed = series.copy()
    changed[24:] *= 3.0
    changed[25, 0] = np.nan
    after = forecast_baseline(name, changed, origins, 3, 4, **every)
    np.testing.assert_array_equal(before[0], after[0])
    assert not np.array_equal(before[1], after[1])  # the later origin does see the change


@pytest.mark.parametrize("name", sorted(FITTED))
def test_fitted_baselines_beat_persistence_on_airline(name: str) -> None:
    """One-step forecasts of the last 12 months: a sanity check, not a benchmark."""
    y = pd.read_csv(ROOT / "datasets" / "airline-passengers.csv")["Passengers"]
    history = y.to_numpy(float)[:, None]
    origins = np.arange(len(y) - 13, len(y) - 1)
    actual = history[origins + 1, 0]

    def rmse(kind: str) -> float:
        # fits at the first origin and reuses the parameters after it: fast enough to test
        f = forecast_baseline(kind, history, origins, 1, 12, refit_every=12)
        return float(np.sqrt(np.mean((f[:, 0, 0] - actual) ** 2)))

    assert rmse(name) < 0.6 * rmse("persistence")


@pytest.mark.parametrize("name", sorted(FITTED))
def test_refit_every_matches_a_full_refit_where_it_refits(name: str) -> None:
    series = _seasonal_series(30)[:, :1]
    origins = np.array([27, 25, 26])  # out of time order: refits happen at 25 only
    every = forecast_baseline(name, series, origins, 2, 4, refit_every=3)
    full = forecast_baseline(name, series, origins[1:2], 2, 4)
    np.testing.assert_allclose(every[1], full[0])
    assert np.isfinite(every).all()


@pytest.mark.parametrize("name", sorted(FITTED))
def test_short_history_falls_back_and_says_so(name: str, caplog: pytest.LogCaptureFixture) -> None:
    series = _seasonal_series(12)[:, :1]
    with caplog.at_level(logging.WARNING, logger="lstmctl"):
        f = forecast_baseline(name, series, np.array([3, 9]), 2, 12)  # < 2 seasons: non-seasonal
    assert f[0, :, 0].tolist() == [series[3, 0]] * 2  # 4 values: persistence
    assert np.isfinite(f[1]).all()
    assert "fewer than 6 values at 1 of 2 origins" in caplog.text


def test_a_failed_fit_falls_back_to_persistence(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fitted_baselines, "_fit", lambda build, y: None)
    series = _seasonal_series(20)
    with caplog.at_level(logging.WARNING, logger="lstmctl"):
        f = forecast_baseline("arima", series, np.array([15, 19]), 2, 4)
    np.testing.assert_array_equal(
        f, forecast_baseline("persistence", series, np.array([15, 19]), 2, 4)
    )
    assert "the fit failed at 2 of 2 origins (first at row 15)" in caplog.text


def test_window_fits_on_the_latest_values_only() -> None:
    series = _seasonal_series(40)[:, :1]
    tail = series[-12:]
    a = forecast_baseline("ets", series, np.array([39]), 2, 4, window=12)
    b = forecast_baseline("ets", tail, np.array([11]), 2, 4)
    np.testing.assert_allclose(a, b)


def test_a_reused_model_runs_from_where_its_window_started() -> None:
    """With a window, parameters reused at a later origin still start at their fit's first row."""
    series = _seasonal_series(40)[:, :1]
    a = forecast_baseline("ets", series, np.array([29, 39]), 2, 4, refit_every=2, window=12)
    b = forecast_baseline("ets", series[18:], np.array([11, 21]), 2, 4, refit_every=2)
    np.testing.assert_allclose(a, b)
