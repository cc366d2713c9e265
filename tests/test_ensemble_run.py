"""A run's ensemble, baselines, verdict and intervals, end to end on a tiny series."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from lstmctl.errors import SpecError
from lstmctl.spec import load_spec
from lstmctl.spec.derive import for_intervals
from lstmctl.workflows.run import run

SETS = [
    "evaluate.repeats=3",
    "evaluate.season=12",
    "evaluate.baselines=[persistence, seasonal_naive, drift, mean]",
    "evaluate.metrics=[rmse, mae, mase, smape]",
    "evaluate.intervals=[0.8, 0.95]",
    "data.window={lookback: 3, horizon: 2}",
]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    from conftest import tiny_raw_spec, write_spec, write_tiny_csv

    folder = tmp_path_factory.mktemp("ens")
    spec = write_spec(folder / "tiny.yaml", tiny_raw_spec(folder, write_tiny_csv(folder)))
    res = run(load_spec(spec, SETS))
    return res, res.to_json()


def test_every_baseline_is_scored_on_the_same_targets(result: tuple) -> None:
    res, out = result
    assert list(out["baselines"]) == ["persistence", "seasonal_naive", "drift", "mean"]
    for scores in out["baselines"].values():
        assert set(scores) == {"rmse", "mae", "mase", "smape"}
    # Scored on exactly the model's targets: the columns of forecasts.csv score the same.
    rows = list(csv.DictReader((res.run_dir / "forecasts.csv").open()))
    actual = np.array([float(r["actual"]) for r in rows])
    for name, scores in out["baselines"].items():
        pred = np.array([float(r[name]) for r in rows])
        assert np.sqrt(np.mean((pred - actual) ** 2)) == pytest.approx(scores["rmse"])
    assert out["best_baseline"] == min(out["baselines"], key=lambda b: out["baselines"][b]["rmse"])


def test_the_ensemble_is_the_mean_of_the_repeats(result: tuple) -> None:
    res, out = result
    rows = list(csv.DictReader((res.run_dir / "forecasts.csv").open()))
    members = np.array([[float(r[f"repeat_{k:02d}"]) for k in (1, 2, 3)] for r in rows])
    ens = np.array([float(r["ensemble"]) for r in rows])
    np.testing.assert_allclose(ens, members.mean(axis=1), rtol=1e-9)
    actual = np.array([float(r["actual"]) for r in rows])
    assert out["ensemble"]["rmse"] == pytest.approx(np.sqrt(np.mean((ens - actual) ** 2)))
    assert out["ensemble"]["members"] == 3
    # Horizon 2: each metric at each step, for the ensemble and the baselines.
    assert set(out["per_step"]) == {"ensemble", *out["baselines"]}
    assert len(out["per_step"]["ensemble"]["rmse"]) == 2


def test_intervals_are_ordered_nested_and_scored(result: tuple) -> None:
    res, out = result
    assert set(out["intervals"]) == {"0.8", "0.95"}
    for level in ("0.8", "0.95"):
        sc = out["intervals"][level]
        assert set(sc) == {"coverage", "width", "winkler", "pinball_lo", "pinball_hi"}
        assert 0.0 <= sc["coverage"] <= 1.0 and sc["width"] > 0
        assert sc["winkler"] >= sc["width"]  # the interval score adds penalties to the width
    assert out["intervals"]["0.95"]["width"] >= out["intervals"]["0.8"]["width"]
    assert out["ensemble"]["crps"] > 0
    # Calibrated on the validation part carved for them (as long as the test part).
    assert out["calibration"]["windows"] > 0
    rows = list(csv.DictReader((res.run_dir / "forecasts.csv").open()))
    for r in rows:
        lo80, hi80 = float(r["lo_80"]), float(r["hi_80"])
        lo95, hi95 = float(r["lo_95"]), float(r["hi_95"])
        assert lo95 <= lo80 <= float(r["ensemble"]) <= hi80 <= hi95
    # The verdict names the best baseline and a p-value.
    sig = out["significance"]
    assert sig["vs"] == out["best_baseline"] and sig["metric"] == "rmse"
    assert sig["p"] is None or 0.0 <= sig["p"] <= 1.0
    assert 0.0 <= sig["repeats_better"] <= 1.0
    html = (res.run_dir / "report.html").read_text()
    assert "Prediction intervals" in html and "Forecasts compared" in html
    assert (res.run_dir / "per-step.png").exists()
    json.dumps(out, allow_nan=False)  # strict JSON


def test_intervals_carve_a_validation_part_only_when_there_is_none(tiny_spec: Path) -> None:
    spec = load_spec(tiny_spec, ["evaluate.intervals=[0.8]"])
    assert for_intervals(spec).data.split.validation == spec.data.split.test
    own = load_spec(tiny_spec, ["evaluate.intervals=[0.8]", "data.split.validation=5"])
    assert for_intervals(own).data.split.validation == 5
    plain = load_spec(tiny_spec)
    assert for_intervals(plain) is plain


def test_a_seasonal_baseline_needs_a_season(tiny_spec: Path) -> None:
    # tiny.csv's time labels (2020-000, ...) have no frequency to infer one from.
    from lstmctl.evaluation.preflight import check_run

    with pytest.raises(SpecError) as e:
        check_run(load_spec(tiny_spec, ["evaluate.baselines=[seasonal_naive]"]))
    assert e.value.where == "evaluate.season"
    assert "set evaluate.season" in str(e.value)
    spec, _ = check_run(
        load_spec(tiny_spec, ["evaluate.baselines=[seasonal_naive]", "evaluate.season=12"])
    )
    assert spec.evaluate.baseline_names == ["seasonal_naive"]


def test_one_baseline_keeps_the_old_key(tiny_spec: Path) -> None:
    spec = load_spec(tiny_spec, ["evaluate.baseline=none"])
    assert spec.evaluate.baseline_names == []
    spec = load_spec(tiny_spec, ["evaluate.baselines=[drift, none]"])
    assert spec.evaluate.baseline_names == ["drift"]
