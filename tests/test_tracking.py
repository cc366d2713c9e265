"""Optional MLflow tracking: what is logged, and into a temporary local file store."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.errors import SpecError, UsageError
from lstmctl.report.tracking import (
    flat_params,
    require_mlflow,
    run_metrics,
    track_run,
    tracking_uri,
    with_mlflow,
)
from lstmctl.spec import load_spec

runner = CliRunner()
HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None
needs_mlflow = pytest.mark.skipif(
    not HAS_MLFLOW, reason="the mlflow extra is not installed (pip install 'lstmctl[mlflow]')"
)


def test_tracking_uri_makes_paths_file_uris(tmp_path: Path) -> None:
    assert tracking_uri(str(tmp_path / "mlruns")) == (tmp_path / "mlruns").as_uri()
    assert tracking_uri("mlruns").startswith("file:///") and tracking_uri("mlruns").endswith(
        "/mlruns"
    )  # fmt: skip
    for remote in ("http://localhost:5000", "sqlite:///mlflow.db", "databricks", "file:///x"):
        assert tracking_uri(remote) == remote


def test_flat_params_are_dotted_spec_keys() -> None:
    params = flat_params({"model": {"units": 4, "arch": "vanilla"}, "seed": 1, "x": [1, 2]})
    assert params == {"model.units": "4", "model.arch": "vanilla", "seed": "1", "x": "[1, 2]"}


def test_run_metrics_summary_per_repeat_and_baselines() -> None:
    results = {
        "metrics": {"rmse": {"mean": 2.0, "std": 1.0, "min": 1.0, "median": 2.0, "max": 3.0}},
        "per_repeat": [
            {"repeat": 1, "rmse": 1.0, "epochs": 5, "error": ""},
            {"repeat": 2, "rmse": float("nan"), "epochs": 2, "error": "loss became NaN"},
            {"repeat": 3, "rmse": 3.0, "epochs": 5, "error": ""},
        ],
        "baselines": {"persistence": {"rmse": 4.0}},
        "skill": {"persistence": {"rmse": 0.5}},
        "repeats": 2,
        "seconds": 1.25,
    }
    got = run_metrics(results)
    assert ("rmse_mean", 2.0, 0) in got and ("rmse_max", 3.0, 0) in got
    assert [(v, s) for k, v, s in got if k == "rmse"] == [(1.0, 1), (3.0, 3)]  # failed one left out
    assert ("persistence_rmse", 4.0, 0) in got and ("skill_persistence_rmse", 0.5, 0) in got
    assert ("seconds", 1.25, 0) in got


def test_run_metrics_log_the_ensemble_intervals_and_verdict() -> None:
    results = {
        "ensemble": {"rmse": 1.5, "members": 3, "crps": 0.7, "per_step": {"ensemble": {}}},
        "intervals": {"0.8": {"coverage": 0.75, "width": 2.0}, "0.95": {"coverage": 0.9}},
        "significance": {"vs": "ets", "p": 0.04},
    }
    got = {k: v for k, v, _ in run_metrics(results)}
    assert got["ensemble_rmse"] == 1.5 and got["ensemble_crps"] == 0.7
    assert got["interval_80_coverage"] == 0.75 and got["interval_95_coverage"] == 0.9
    assert got["verdict_p"] == 0.04
    assert not any(k.startswith("ensemble_per_step") for k in got)


def test_with_mlflow_defaults_to_a_local_mlruns(tiny_spec: Path) -> None:
    spec = load_spec(tiny_spec)
    assert spec.tracking.mlflow is None
    assert with_mlflow(spec).tracking.mlflow == "mlruns"
    given = load_spec(tiny_spec, ["tracking.mlflow=http://localhost:5000"])
    assert with_mlflow(given).tracking.mlflow == "http://localhost:5000"


def test_tracking_keys_are_validated(tiny_spec: Path) -> None:
    with pytest.raises(SpecError, match="did you mean tracking.mlflow"):
        load_spec(tiny_spec, ["tracking.mlflw=mlruns"])


def test_missing_mlflow_fails_before_training(
    tiny_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow now raises ImportError
    with pytest.raises(UsageError, match=r"lstmctl\[mlflow\]"):
        require_mlflow(load_spec(tiny_spec, ["tracking.mlflow=mlruns"]))
    r = runner.invoke(app, ["run", str(tiny_spec), "--mlflow"])
    assert r.exit_code == 2 and "pip install 'lstmctl[mlflow]'" in r.stderr
    assert not (tmp_path / "runs").exists()  # no run directory, no training


@needs_mlflow
def test_run_logs_params_metrics_and_artifacts(
    tiny_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # --mlflow logs into ./mlruns
    r = runner.invoke(app, ["run", str(tiny_spec), "--mlflow", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    results = json.loads(r.stdout)
    run_dir = Path(results["run_dir"])
    tracked = json.loads((run_dir / "tracking.json").read_text())["mlflow"]
    assert tracked["uri"] == (tmp_path / "mlruns").as_uri() and tracked["experiment"] == "tiny"

    client = MlflowClient(tracking_uri=tracked["uri"])
    exp = client.get_experiment_by_name("tiny")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_id == tracked["run_id"] and run.info.status == "FINISHED"
    assert run.info.run_name == run_dir.name
    assert run.data.params["model.units"] == "4" and run.data.params["train.epochs"] == "3"
    assert run.data.metrics["rmse_mean"] == pytest.approx(results["metrics"]["rmse"]["mean"])
    assert run.data.metrics["persistence_rmse"] == pytest.approx(
        results["baselines"]["persistence"]["rmse"]
    )
    per_repeat = client.get_metric_history(run.info.run_id, "rmse")
    assert sorted(m.step for m in per_repeat) == [1, 2]
    assert [m.value for m in sorted(per_repeat, key=lambda m: m.step)] == pytest.approx(
        results["metrics"]["rmse"]["values"]
    )
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"results.json", "spec.yaml", "report.html", "forecasts.csv", "history"} <= artifacts
    assert run.data.tags["lstmctl.arch"] == "vanilla"


@needs_mlflow
def test_a_broken_store_is_a_warning_not_a_lost_run(
    tiny_spec: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store's folder should be")
    spec = load_spec(tiny_spec, [f"tracking.mlflow={blocker / 'mlruns'}"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = SimpleNamespace(spec=spec, run_dir=run_dir, to_json=lambda: {"metrics": {}})
    with caplog.at_level(logging.WARNING, logger="lstmctl"):
        assert track_run(result) is None
    assert "MLflow logging failed" in caplog.text and str(run_dir) in caplog.text
