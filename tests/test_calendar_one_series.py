"""One series with calendar and known inputs: prepared as a panel of one series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.data.loading import ONE_SERIES
from lstmctl.data.prepare import prepare
from lstmctl.errors import SpecError
from lstmctl.spec import Spec, validate_spec


def write_series(folder: Path, n: int = 60) -> Path:
    """One monthly series (no id column); ``promo`` a 0/1 known ahead."""
    rng = np.random.default_rng(0)
    months = pd.date_range("2000-01-01", periods=n, freq="MS")
    frame = pd.DataFrame(
        {
            "month": months.strftime("%Y-%m-%d"),
            # Exact in float32: a window's target tells its row.
            "value": 100 + 2 * np.arange(n) + 0.5 * (np.arange(n) % 3),
            "promo": rng.integers(0, 2, n),
        }
    )
    path = folder / "one.csv"
    frame.to_csv(path, index=False)
    return path


def raw_spec(path: Path, **data: Any) -> dict[str, Any]:
    return {
        "name": "one",
        "data": {
            "path": str(path),
            "time": "month",
            "target": "value",
            "scale": {"kind": "none"},
            "window": {"lookback": 3, "horizon": 2},
            "split": {"test": 6},
            **data,
        },
        "model": {"arch": "vanilla", "units": 4},
        "train": {"epochs": 1},
        "evaluate": {"repeats": 1},
    }


def test_calendar_and_known_need_no_series() -> None:
    spec = validate_spec(raw_spec(Path("x.csv"), calendar=["month"], known=["promo"]))
    assert spec.data.series is None and spec.data.is_panel
    plain = validate_spec(raw_spec(Path("x.csv")))
    assert not plain.data.is_panel  # the single-series path, as before


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"static": ["kind"]}, "data.static needs data.series"),
        ({"calendar": ["month"], "time": None}, "data.calendar needs data.time"),
        ({"known": ["promo"], "features": ["promo"]}, "found 'promo' in data.features and"),
    ],
)
def test_what_one_series_still_refuses(data: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        validate_spec(raw_spec(Path("x.csv"), **data))


def test_one_series_gets_calendar_and_known_inputs_for_the_forecast_steps(
    tmp_path: Path,
) -> None:
    path = write_series(tmp_path)
    data = prepare(Spec.model_validate(raw_spec(path, calendar=["month"], known=["promo"])))
    assert data.panel is not None and data.panel.ids == [ONE_SERIES]
    names = data.input_names
    assert names[:2] == ["value", "promo"]
    assert {"promo@+1", "promo@+2", "month_sin@+2", "month_cos@+2"} <= set(names)
    table = pd.read_csv(path)
    promo = dict(zip(table["value"], table["promo"], strict=True))
    month = dict(zip(table["value"], pd.to_datetime(table["month"]).dt.month, strict=True))
    X, y = np.asarray(data.X_test), np.asarray(data.y_test)
    for w in range(len(X)):
        for k in (1, 2):
            ahead = float(y[w, k - 1, 0])
            assert X[w, -1, names.index(f"promo@+{k}")] == promo[ahead]
            angle = 2 * np.pi * (month[ahead] - 1) / 12
            assert X[w, -1, names.index(f"month_sin@+{k}")] == pytest.approx(np.sin(angle))
    # The target's windows are the single-series path's.
    single = prepare(Spec.model_validate(raw_spec(path)))
    assert single.panel is None
    assert np.array_equal(np.asarray(data.X_test)[:, :, 0], single.X_test[:, :, 0])
    assert np.array_equal(data.actual_test, single.actual_test)
    assert np.array_equal(data.persistence_test, single.persistence_test)


def test_a_saved_one_series_model_takes_future_known_values(tmp_path: Path) -> None:
    raw = raw_spec(write_series(tmp_path), calendar=["month"], known=["promo"])
    spec, model = tmp_path / "spec.yaml", tmp_path / "model"
    spec.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    # The Keras engine (ONNX with known inputs is test_panel_lifecycle's): the export's
    # TensorFlow child would double the test's time.
    r = runner.invoke(
        app, ["finalize", str(spec), "--out", str(model), "--members", "1", "--no-onnx"]
    )
    assert r.exit_code == 0, r.output
    ask = ["predict", "--model", str(model), "--horizon", "2"]
    r = runner.invoke(app, ask)
    assert r.exit_code == 2
    assert "expected the known covariate 'promo'" in r.stderr
    assert "2005-01-01" in r.stderr and "month, promo" in r.stderr  # no series column
    future = tmp_path / "future.csv"
    future.write_text("month,promo\n2005-01-01,1\n2005-02-01,0\n")
    r = runner.invoke(app, [*ask, "--future", str(future)])
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].split(",")[:4] == ["series", "origin", "step", "month"]
    assert [line.split(",")[3] for line in lines[1:]] == ["2005-01-01", "2005-02-01"]
