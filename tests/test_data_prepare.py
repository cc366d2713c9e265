"""prepare(spec) end to end: the shampoo anchor, inversion, splits, missing values, one-hot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lstmctl.data.encoding import OneHot
from lstmctl.data.missing import MissingValues
from lstmctl.data.prepare import prepare
from lstmctl.data.prepared import Prepared
from lstmctl.errors import DataError, SpecError
from lstmctl.spec import Spec, validate_spec

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"


def make_spec(**data: Any) -> Spec:
    return validate_spec({"data": data})


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def shampoo(**kw: Any) -> Prepared:
    data: dict[str, Any] = {
        "path": str(DATASETS / "shampoo.csv"),
        "target": "Sales",
        "time": "Month",
        "transforms": ["difference"],
        "scale": {"kind": "minmax", "range": [-1, 1]},
        "window": {"lookback": 1, "horizon": 1},
        "split": {"test": 12},
    }
    data.update(kw)
    return prepare(make_spec(**data))


def write_csv(tmp_path: Path, frame: pd.DataFrame, name: str = "d.csv") -> str:
    p = tmp_path / name
    frame.to_csv(p, index=False)
    return str(p)


# --------------------------------------------------------------------------- the anchor


def test_shampoo_anchor() -> None:
    p = shampoo()
    sales = pd.read_csv(DATASETS / "shampoo.csv")["Sales"].to_numpy()
    assert p.X_train.shape == (22, 1, 1) and p.y_train.shape == (22, 1, 1)
    assert p.X_test.shape == (12, 1, 1) and p.y_test.shape == (12, 1, 1)
    assert p.X_val.shape == (0, 1, 1)
    assert p.X_train.dtype == np.float32 and p.y_test.dtype == np.float32
    np.testing.assert_allclose(p.actual_test[:, 0, 0], sales[-12:])
    np.testing.assert_allclose(p.persistence_test[:, 0, 0], sales[-13:-1])
    assert round(rmse(p.persistence_test, p.actual_test), 3) == 136.761
    np.testing.assert_allclose(p.inverse(p.y_test), p.actual_test, rtol=1e-5)
    assert p.test_labels[0] == "3-01" and p.test_labels[-1] == "3-12"
    assert p.lookback == 1 and p.horizon == 1
    assert p.input_names == ["Sales"] and p.target_names == ["Sales"]
    assert p.mask_value is None
    # Training inputs are scaled differences in [-1, 1], fitted on the training rows.
    assert p.X_train.min() >= -1.0 - 1e-6 and p.X_train.max() <= 1.0 + 1e-6
    diffs = np.diff(sales[:24])
    cols = p.state["scale"]["targets"]["columns"]["Sales"]
    assert cols["data_min"] == pytest.approx(diffs.min())
    assert cols["data_max"] == pytest.approx(diffs.max())


def test_state_is_json() -> None:
    state = json.loads(json.dumps(shampoo(split={"test": 12, "validation": 6}).state))
    assert state["rows"] == {"total": 36, "train": 18, "validation": 6, "test": 12}
    assert state["windows"] == {"train": 16, "val": 6, "test": 12}
    assert state["transforms"] == [{"kind": "difference", "lag": 1}]
    assert state["inputs"] == ["Sales"] and state["targets"] == ["Sales"]
    assert state["scale"]["targets"]["range"] == [-1.0, 1.0]


def test_multi_step_with_log_and_difference_inverts_exactly() -> None:
    p = prepare(
        make_spec(
            path=str(DATASETS / "airline-passengers.csv"),
            target="Passengers",
            time="Month",
            transforms=["log", {"kind": "difference", "lag": 12}, "difference"],
            scale={"kind": "standard"},
            window={"lookback": 6, "horizon": 4},
            split={"test": 24, "validation": 12},
        )
    )
    passengers = pd.read_csv(DATASETS / "airline-passengers.csv")["Passengers"].to_numpy()
    # Test origins n_train-1 .. n_rows-H-1: 24 - 4 + 1 windows.
    assert p.X_test.shape == (21, 6, 1) and p.y_test.shape == (21, 4, 1)
    np.testing.assert_allclose(p.actual_test[0, :, 0], passengers[120:124])
    np.testing.assert_allclose(p.persistence_test[0, :, 0], [passengers[119]] * 4)
    np.testing.assert_allclose(p.inverse(p.y_test), p.actual_test, rtol=1e-4)
    assert len(p.X_val) == 12 - 4 + 1
    assert p.state["transforms"][1] == {"kind": "difference", "lag": 12}


def test_zero_predicted_change_is_persistence_over_the_horizon() -> None:
    p = shampoo(scale={"kind": "none"}, window={"lookback": 2, "horizon": 3})
    forecast = p.inverse(np.zeros_like(p.y_test, dtype=np.float64))
    np.testing.assert_allclose(forecast, p.persistence_test)
    with pytest.raises(ValueError, match="expected predictions of shape"):
        p.inverse(np.zeros((3, 3, 1)))


def test_no_transforms_identity_scaling() -> None:
    p = shampoo(transforms=[], scale={"kind": "none"}, window={"lookback": 3, "horizon": 1})
    np.testing.assert_allclose(p.y_test[:, 0, 0], p.actual_test[:, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(p.X_test[:, -1, 0], p.persistence_test[:, 0, 0], rtol=1e-6)
    assert len(p.X_train) == 24 - 3


def test_fraction_split_on_airline() -> None:
    p = prepare(
        make_spec(
            path=str(DATASETS / "airline-passengers.csv"),
            target="Passengers",
            time="Month",
            window={"lookback": 3},
            split={"test": 0.33},
        )
    )
    assert p.state["rows"]["test"] == 48 and p.state["rows"]["train"] == 96
    assert len(p.X_test) == 48 and len(p.X_train) == 96 - 3


def test_scaler_fitted_before_validation_and_test_rows(tmp_path: Path) -> None:
    values = np.r_[np.linspace(0, 10, 20), [1000.0] * 5, [5000.0] * 5]
    path = write_csv(tmp_path, pd.DataFrame({"v": values}))
    p = prepare(make_spec(path=path, target="v", split={"test": 5, "validation": 5}))
    cols = p.state["scale"]["targets"]["columns"]["v"]
    assert cols["data_min"] == 0.0 and cols["data_max"] == 10.0
    assert p.X_train.max() <= 1.0 + 1e-6
    assert p.y_val.min() > 1.0 and p.y_test.min() > p.y_val.max()


def test_too_few_rows_for_the_lookback() -> None:
    with pytest.raises(DataError) as e:
        shampoo(window={"lookback": 50, "horizon": 1})
    assert "needs at least 52 training rows, found 24" in e.value.message


def test_prepare_dispatches_generated_problems() -> None:
    # The generators themselves are tested in test_problems.py.
    data = prepare(make_spec(problem="echo", params={"samples": 50}))
    assert data.task == "classification" and len(data.X_train) + len(data.X_test) == 50
    with pytest.raises(SpecError) as e:
        prepare(make_spec(problem="sine"))
    assert e.value.where == "data.problem" and "known: addition" in e.value.message


def test_multiple_targets_and_features(tmp_path: Path) -> None:
    n = 60
    t = np.arange(n, dtype=float)
    frame = pd.DataFrame({"a": t + 1, "b": 2 * t + 5, "c": np.sin(t), "d": np.cos(t)})
    path = write_csv(tmp_path, frame)
    p = prepare(
        make_spec(
            path=path,
            target=["a", "b"],
            features=["c", "d"],
            transforms=["difference"],
            window={"lookback": 5, "horizon": 2},
            split={"test": 10},
        )
    )
    assert p.X_train.shape[1:] == (5, 4) and p.y_train.shape[1:] == (2, 2)
    assert p.input_names == ["a", "b", "c", "d"]
    assert p.actual_test.shape == (9, 2, 2)
    np.testing.assert_allclose(p.inverse(p.y_test), p.actual_test, rtol=1e-5)


# --------------------------------------------------------------------------- missing values


@pytest.fixture
def gappy(tmp_path: Path) -> str:
    v = np.arange(1.0, 31.0)
    v[[0, 10, 11]] = np.nan
    w = np.arange(30.0) * 10
    w[20] = np.nan
    return write_csv(tmp_path, pd.DataFrame({"v": v, "w": w}))


def test_missing_drop(gappy: str) -> None:
    p = prepare(
        make_spec(path=gappy, target="v", features=["w"], missing="drop", split={"test": 5})
    )
    assert p.state["rows"]["total"] == 26
    assert not np.isnan(p.X_train).any()


def test_missing_ffill(gappy: str) -> None:
    frame = pd.read_csv(gappy)
    out = MissingValues("ffill", ["v", "w"]).fit_transform(frame)
    assert out["v"].iloc[0] == 2.0  # the leading gap is back-filled
    assert out["v"].iloc[10] == 10.0 and out["v"].iloc[11] == 10.0
    assert out["w"].iloc[20] == 190.0
    p = prepare(make_spec(path=gappy, target="v", features=["w"], missing="ffill"))
    assert p.state["rows"]["total"] == 30 and not np.isnan(p.X_train).any()


def test_missing_interpolate(gappy: str) -> None:
    out = MissingValues("interpolate", ["v", "w"]).fit_transform(pd.read_csv(gappy))
    assert out["v"].iloc[0] == 2.0  # nearest value at the edge
    assert out["v"].iloc[10] == pytest.approx(11.0) and out["v"].iloc[11] == pytest.approx(12.0)
    assert out["w"].iloc[20] == pytest.approx(200.0)


def test_missing_mask(gappy: str) -> None:
    p = prepare(
        make_spec(
            path=gappy,
            target="v",
            features=["w"],
            missing="mask",
            mask_value=-9.0,
            window={"lookback": 3},
            split={"test": 5},
        )
    )
    assert p.mask_value == -9.0
    assert not np.isnan(p.X_train).any() and not np.isnan(p.y_train).any()
    # Missing inputs (row 0's v, row 20's w) now hold the mask value; the windows
    # predicting rows 10 and 11 are gone: training origins 2..23 minus 9 and 10.
    assert p.X_train[0, 0, 0] == -9.0
    assert len(p.X_train) == 22 - 2
    assert len(p.X_test) == 5


def test_all_missing_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, pd.DataFrame({"v": [1.0, 2.0, 3.0], "w": [np.nan] * 3}))
    with pytest.raises(DataError) as e:
        prepare(make_spec(path=path, target="v", features=["w"]))
    assert e.value.where.endswith("column w") and "missing" in e.value.message


# --------------------------------------------------------------------------- one-hot


def test_one_hot_unknown_category_gives_zeros() -> None:
    train = pd.DataFrame({"c": ["a", "b", "a"]})
    enc = OneHot(["c"]).fit(train)
    assert enc.names_ == ["c=a", "c=b"] and enc.state() == {"c": ["a", "b"]}
    out = enc.transform(pd.DataFrame({"c": ["b", "zzz", None]}))
    np.testing.assert_array_equal(out, [[0, 1], [0, 0], [0, 0]])
    masked = OneHot(["c"], missing_as_nan=True).fit(train).transform(pd.DataFrame({"c": [None]}))
    assert np.isnan(masked).all()


def test_unknown_category_in_test_rows(tmp_path: Path) -> None:
    n = 40
    cat = ["x", "y"] * 15 + ["new"] * 10
    path = write_csv(tmp_path, pd.DataFrame({"v": np.arange(n, dtype=float), "c": cat}))
    p = prepare(
        make_spec(path=path, target="v", features=["c"], categorical=["c"], split={"test": 10})
    )
    assert p.input_names == ["v", "c=x", "c=y"]
    assert p.state["categories"] == {"c": ["x", "y"]}
    assert (p.X_test[-1, :, 1:] == 0).all()
    assert (p.X_train[:, :, 1:].sum(axis=2) == 1).all()


# --------------------------------------------------------------------------- real data


def test_pollution_prepares_multivariate_windows() -> None:
    p = prepare(
        make_spec(
            path=str(DATASETS / "pollution.csv"),
            target="pm2.5",
            time=["year", "month", "day", "hour"],
            features=["DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir"],
            categorical=["cbwd"],
            missing="interpolate",
            window={"lookback": 24},
            split={"test": 0.2, "validation": 0.1},
        )
    )
    names = ["pm2.5", "DEWP", "TEMP", "PRES", "Iws", "Is", "Ir"]
    assert p.input_names == names + ["cbwd=NE", "cbwd=NW", "cbwd=SE", "cbwd=cv"]
    assert p.X_train.shape[1:] == (24, 11) and p.X_train.dtype == np.float32
    # One window per test row, except rows whose PM2.5 was missing (filled in,
    # so not scored).
    raw = pd.read_csv(DATASETS / "pollution.csv", usecols=["pm2.5"])["pm2.5"]
    missing_in_test = int(raw.iloc[-8765:].isna().sum())
    assert missing_in_test > 0
    assert len(p.X_test) == 8765 - missing_in_test
    assert p.state["test_windows_imputed"] == missing_in_test
    assert len(p.X_train) + len(p.X_val) + len(p.X_test) == 43824 - 24 - missing_in_test
    assert not np.isnan(p.X_train).any() and not np.isnan(p.actual_test).any()
    assert p.test_labels[-1] == "2014-12-31 23:00"
    np.testing.assert_allclose(p.inverse(p.y_test), p.actual_test, rtol=1e-4, atol=1e-3)


def test_log_after_difference_names_the_line() -> None:
    with pytest.raises(DataError) as e:
        shampoo(transforms=["difference", "log"])
    # Row 1's difference (145.9 - 266.0) is the first value <= 0; CSV line 3.
    assert e.value.where.endswith("shampoo.csv: column Sales, line 3")
    assert "log needs values > 0" in e.value.message


def test_mask_covers_missing_categories(tmp_path: Path) -> None:
    cat: list[str | None] = ["x", "y"] * 10
    cat[4] = None
    path = write_csv(tmp_path, pd.DataFrame({"v": np.arange(20.0), "c": cat}))
    p = prepare(
        make_spec(
            path=path,
            target="v",
            features=["c"],
            categorical=["c"],
            missing="mask",
            split={"test": 4},
        )
    )
    # Row 4's one-hot columns hold the mask value, so a Masking layer can skip them.
    assert p.X_train[4, 0, 1:].tolist() == [-10.0, -10.0]
    assert p.X_train[4, 0, 0] != -10.0
