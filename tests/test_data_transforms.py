"""Transforms and scalers: round trips, training-only fitting, walk-forward inversion."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstmctl.data.scalers import MinMaxScaler, NoScaler, StandardScaler, make_scaler
from lstmctl.data.transforms import Difference, Log, make_transform
from lstmctl.errors import DataError
from lstmctl.spec import ScaleSpec, TransformSpec


@pytest.fixture
def series() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.cumsum(rng.normal(size=(40, 2)), axis=0) + 50.0


@pytest.mark.parametrize("lag", [1, 3])
def test_difference_round_trip(series: np.ndarray, lag: int) -> None:
    d = Difference(lag).fit(series)
    z = d.transform(series)
    assert np.isnan(z[:lag]).all()
    np.testing.assert_allclose(z[lag:], series[lag:] - series[:-lag])
    np.testing.assert_allclose(d.inverse_transform(z), series, rtol=0, atol=1e-9)


def test_difference_inverse_with_explicit_head(series: np.ndarray) -> None:
    d = Difference(2).fit(series[:10])
    tail = series[5:]
    back = d.inverse_transform(d.transform(tail), head=tail[:2])
    np.testing.assert_allclose(back, tail, atol=1e-9)


@pytest.mark.parametrize("lag", [1, 2, 3])
def test_difference_inverse_forecast_walks_forward(series: np.ndarray, lag: int) -> None:
    d = Difference(lag).fit(series)
    z = d.transform(series)
    horizon = 5
    origins = np.arange(10, 30)
    steps = origins[:, None] + np.arange(1, horizon + 1)
    # Perfect predicted differences give back the actual values, step after step.
    np.testing.assert_allclose(d.inverse_forecast(z[steps], origins, series), series[steps])
    # Zero predicted change repeats the last `lag` observed values.
    flat = d.inverse_forecast(np.zeros_like(z[steps]), origins, series)
    for h in range(horizon):
        np.testing.assert_allclose(flat[:, h], series[origins - lag + 1 + h % lag])


def test_log_round_trip_and_inverse_forecast(series: np.ndarray) -> None:
    lg = Log().fit(series)
    z = lg.transform(series)
    np.testing.assert_allclose(z, np.log(series))
    np.testing.assert_allclose(lg.inverse_transform(z), series, rtol=1e-12)
    np.testing.assert_allclose(lg.inverse_forecast(z[None], np.array([0]), series)[0], series)


def test_log_of_non_positive_names_column_and_line() -> None:
    x = np.array([[1.0, 2.0], [3.0, 0.0], [np.nan, 4.0]])
    lg = Log(names=["a", "b"], source="f.csv", lines=[2, 3, 4]).fit(x)
    with pytest.raises(DataError) as e:
        lg.transform(x)
    assert e.value.where == "f.csv: column b, line 3"
    assert "> 0" in e.value.message and "found 0" in e.value.message
    assert "shift" in e.value.message


def test_log_passes_missing_values_through() -> None:
    out = Log().fit([[1.0], [np.nan]]).transform([[1.0], [np.nan]])
    assert out[0, 0] == 0.0 and np.isnan(out[1, 0])


def test_minmax_custom_range_round_trip(series: np.ndarray) -> None:
    sc = MinMaxScaler((-1.0, 1.0)).fit(series)
    z = sc.transform(series)
    np.testing.assert_allclose(z.min(axis=0), [-1.0, -1.0])
    np.testing.assert_allclose(z.max(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(sc.inverse_transform(z), series, rtol=1e-12)


def test_minmax_fitted_on_train_only(series: np.ndarray) -> None:
    train, test = series[:30], series[30:] * 10.0  # test values far out of range
    sc = MinMaxScaler((0.0, 1.0)).fit(train)
    before = json.dumps(sc.state())
    z = sc.transform(test)
    assert json.dumps(sc.state()) == before
    np.testing.assert_allclose(sc.data_max_, train.max(axis=0))
    assert (z > 1.0).any()  # out-of-range test values are not clipped or refitted
    np.testing.assert_allclose(sc.inverse_transform(z), test, rtol=1e-12)


def test_scalers_ignore_missing_values_when_fitting() -> None:
    x = np.array([[1.0], [np.nan], [3.0]])
    sc = MinMaxScaler().fit(x)
    assert sc.data_min_[0] == 1.0 and sc.data_max_[0] == 3.0
    assert np.isnan(sc.transform(x)[1, 0])
    st = StandardScaler().fit(x)
    assert st.mean_[0] == 2.0


def test_standard_round_trip_and_constant_column(series: np.ndarray) -> None:
    x = np.column_stack([series[:, 0], np.full(len(series), 7.0)])
    sc = StandardScaler().fit(x[:30])
    z = sc.transform(x)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(z[:30, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:30, 0].std(), 1.0)
    assert sc.scale_[1] == 1.0 and (z[:, 1] == 0.0).all()
    np.testing.assert_allclose(sc.inverse_transform(z), x, rtol=1e-12)


def test_minmax_constant_column_maps_to_low_end() -> None:
    z = MinMaxScaler((-1.0, 1.0)).fit_transform(np.full((5, 1), 3.0))
    assert (z == -1.0).all()


def test_scaler_on_three_dimensional_predictions(series: np.ndarray) -> None:
    sc = MinMaxScaler((-1.0, 1.0)).fit(series)
    pred = sc.transform(series)[:12].reshape(4, 3, 2)
    np.testing.assert_allclose(sc.inverse_transform(pred), series[:12].reshape(4, 3, 2))


def test_no_scaler_is_identity(series: np.ndarray) -> None:
    sc = NoScaler().fit(series)
    np.testing.assert_array_equal(sc.transform(series), series)
    np.testing.assert_array_equal(sc.inverse_transform(series), series)


def test_scaler_with_no_training_values_is_a_data_error() -> None:
    with pytest.raises(DataError) as e:
        MinMaxScaler(names=["a", "b"], source="f.csv").fit([[1.0, np.nan], [2.0, np.nan]])
    assert e.value.where == "f.csv: column b"


def test_factories_and_json_state(series: np.ndarray) -> None:
    assert isinstance(make_scaler(ScaleSpec(kind="standard")), StandardScaler)
    assert isinstance(make_scaler(ScaleSpec(kind="none")), NoScaler)
    mm = make_scaler(ScaleSpec(kind="minmax", range=(-1, 1)), names=["a", "b"]).fit(series)
    state = json.loads(json.dumps(mm.state()))
    assert state["range"] == [-1.0, 1.0]
    assert set(state["columns"]) == {"a", "b"}
    assert state["columns"]["a"]["data_max"] == pytest.approx(series[:, 0].max())
    d = make_transform(TransformSpec(kind="difference", lag=3))
    assert isinstance(d, Difference) and d.state() == {"kind": "difference", "lag": 3}
    assert make_transform(TransformSpec.model_validate("log")).state() == {"kind": "log"}
