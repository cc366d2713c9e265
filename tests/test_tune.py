"""`lstmctl tune` on a tiny problem: strategies, records, pruning, failures, resume, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import tiny_raw_spec, write_spec
from typer.testing import CliRunner

import lstmctl.tuning.worker as worker_module
from lstmctl.api import tune
from lstmctl.cli import app
from lstmctl.errors import Interrupted
from lstmctl.spec import load_spec


@pytest.fixture(autouse=True)
def shared_compile_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    # Trials of the same shapes across tests (and worker processes) compile once.
    monkeypatch.setenv("LSTMCTL_JAX_CACHE", str(tmp_path_factory.getbasetemp() / "jax-cache"))


def tune_spec(tmp_path: Path, tiny_csv: Path, tune_section: dict[str, Any], **over: Any) -> Path:
    """The conftest's tiny problem (60 rows, LSTM(4), 3 epochs) with a tune section."""
    raw: dict[str, Any] = {**tiny_raw_spec(tmp_path, tiny_csv), "tune": tune_section}
    for key, value in over.items():
        raw[key] = value
    return write_spec(tmp_path / "tune.yaml", raw)


def test_grid_runs_every_point_once_and_records_every_repeat(
    tmp_path: Path, tiny_csv: Path
) -> None:
    path = tune_spec(
        tmp_path,
        tiny_csv,
        {"space": {"model.units": [2, 4], "train.epochs": [2, 3]}, "repeats": 3},
    )
    res = tune(path)
    assert res.complete and res.tune.strategy == "grid"
    assert [r.state for r in res.rows] == ["complete"] * 4
    assert {(r.params["model.units"], r.params["train.epochs"]) for r in res.rows} == {
        (u, e) for u in (2, 4) for e in (2, 3)
    }
    for r in res.rows:
        assert len(r.values) == 3 and all(v is not None and v > 0 for v in r.values)
        assert r.summary["mean"] == pytest.approx(sum(r.values) / 3)
        assert set(r.scores) == {"rmse", "mae"}
    means = [r.summary["mean"] for r in res.rows]
    assert means == sorted(means)  # best first
    # Repeat i has seed seed + i in every trial: configurations are compared on equal terms.
    best = res.best
    assert best is not None and res.best_spec().model.units == best.params["model.units"]

    files = {p.name for p in res.run_dir.iterdir()}
    assert {"spec.yaml", "study.db", "study.json", "results.json", "trials.csv"} <= files
    assert {"best.yaml", "repeats.png"} <= files
    assert (res.run_dir / "repeats.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((res.run_dir / "results.json").read_text())
    assert saved["best"]["trial"] == best.number and len(saved["trials"]) == 4
    # best.yaml is a complete spec `lstmctl run` accepts as is.
    runnable = load_spec(res.run_dir / "best.yaml")
    assert runnable.tune is None and runnable.train.epochs == best.params["train.epochs"]
    assert runnable.evaluate.repeats == 2  # the spec's own, for the final estimate


@pytest.mark.parametrize("strategy", ["random", "tpe"])
def test_random_and_tpe_sample_ranges_within_their_bounds(
    tmp_path: Path, tiny_csv: Path, strategy: str
) -> None:
    path = tune_spec(
        tmp_path,
        tiny_csv,
        {
            "space": {
                "train.learning_rate": {"low": 1e-3, "high": 1e-1, "log": True},
                "train.epochs": {"low": 2, "high": 6, "step": 2},
            },
            "strategy": strategy,
            "trials": 3,
            "repeats": 2,
        },
    )
    res = tune(path)
    assert res.complete and len(res.rows) == 3
    for r in res.rows:
        assert r.state == "complete"
        assert 1e-3 <= r.params["train.learning_rate"] <= 1e-1
        assert r.params["train.epochs"] in (2, 4, 6)
    assert len({r.params["train.learning_rate"] for r in res.rows}) == 3


def test_a_failed_trial_is_recorded_with_its_error_and_the_study_goes_on(
    tmp_path: Path, tiny_csv: Path
) -> None:
    # SGD with a huge learning rate: the loss becomes infinite in every repeat.
    path = tune_spec(
        tmp_path,
        tiny_csv,
        {"space": {"train.learning_rate": [0.01, 1.0e12]}, "repeats": 2},
        train={"epochs": 3, "batch_size": 8, "optimizer": "sgd"},
    )
    res = tune(path)
    by_lr = {r.params["train.learning_rate"]: r for r in res.rows}
    assert by_lr[0.01].state == "complete"
    failed = by_lr[1.0e12]
    assert failed.state == "failed" and "loss became inf" in failed.note
    assert res.rows[-1] is failed and res.best is by_lr[0.01]
    assert res.complete


def test_repeat_pruning_stops_a_hopeless_configuration(tmp_path: Path, tiny_csv: Path) -> None:
    # A learning rate of 1e-7 leaves every replica at its initial weights; with the
    # same seeds, the trained configuration beats it repeat by repeat.
    path = tune_spec(
        tmp_path,
        tiny_csv,
        {
            "space": {"train.learning_rate": [0.03, 1e-7, 2e-7]},
            "repeats": 10,
            "seed": 5,  # queues the trained configuration first
            "pruning": {"repeats": {"every": 2, "min_repeats": 4, "p_threshold": 0.1}},
        },
        train={"epochs": 20, "batch_size": 8},
    )
    res = tune(path)
    states = {r.params["train.learning_rate"]: r for r in res.rows}
    assert states[0.03].state == "complete" and states[0.03].repeats == 10
    pruned = [r for r in res.rows if r.state == "pruned"]
    assert pruned, [(r.params, r.state, r.summary) for r in res.rows]
    for r in pruned:
        assert r.params["train.learning_rate"] < 1e-6
        assert 4 <= r.repeats < 10 and "Wilcoxon" in r.note
    assert res.best is states[0.03]


def test_epoch_pruning_stops_a_hopeless_learning_curve(tmp_path: Path, tiny_csv: Path) -> None:
    path = tune_spec(
        tmp_path,
        tiny_csv,
        {
            "space": {"train.learning_rate": [0.03, 0.02, 1e-7]},
            "strategy": "grid",
            "repeats": 2,
            "seed": 5,  # both trained configurations run before the hopeless one
            "pruning": {"epochs": {"monitor": "val_loss", "warmup": 2, "min_trials": 2}},
        },
        data={
            "path": str(tiny_csv),
            "time": "month",
            "target": "sales",
            "transforms": ["difference"],
            "scale": {"kind": "minmax", "range": [-1, 1]},
            "window": {"lookback": 3, "horizon": 1},
            "split": {"test": 12, "validation": 8},
        },
        train={"epochs": 20, "batch_size": 8},
    )
    res = tune(path)
    rows = {r.params["train.learning_rate"]: r for r in res.rows}
    order = sorted(rows.values(), key=lambda r: r.number)
    assert order[-1] is rows[1e-7], "the seed should queue the hopeless point last"
    assert rows[0.03].state == rows[0.02].state == "complete"
    hopeless = rows[1e-7]
    assert hopeless.state == "pruned" and hopeless.repeats == 0
    assert "val_loss" in hopeless.note and "median" in hopeless.note


def test_ctrl_c_keeps_finished_trials_and_resume_runs_only_the_rest(
    tmp_path: Path, tiny_csv: Path, monkeypatch
) -> None:
    path = tune_spec(
        tmp_path, tiny_csv, {"space": {"train.learning_rate": [0.001, 0.003, 0.01, 0.03]}}
    )
    real = worker_module.run_trial
    calls = {"n": 0}

    def interrupted_third(trial: Any, ctx: Any, refs: Any = None) -> float:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third trial
        return real(trial, ctx, refs)

    monkeypatch.setattr(worker_module, "run_trial", interrupted_third)
    with pytest.raises(Interrupted) as e:
        tune(path)
    assert "--resume" in e.value.message
    (run_dir,) = (tmp_path / "runs").iterdir()
    first = json.loads((run_dir / "results.json").read_text())
    assert first["complete"] is False
    assert [t["state"] for t in first["trials"]] == ["complete", "complete", "failed"]
    done_before = {t["trial"]: t["params"]["train.learning_rate"] for t in first["trials"][:2]}

    monkeypatch.setattr(worker_module, "run_trial", real)
    res = tune(resume=run_dir)
    assert res.complete and res.run_dir == run_dir
    complete = [r for r in res.rows if r.state == "complete"]
    lrs = sorted(r.params["train.learning_rate"] for r in complete)
    assert lrs == [0.001, 0.003, 0.01, 0.03]  # each once
    # The two finished trials were kept, not run again; the interrupted one was re-run.
    kept = {r.number: r.params["train.learning_rate"] for r in complete}
    assert kept | done_before == kept
    (lost,) = [r for r in res.rows if r.state == "failed"]
    assert "interrupted" in lost.note and "run again as" in lost.note
    assert len(complete) - len(done_before) == 2


def test_cli_prints_the_trials_table_and_a_best_spec_that_validates(
    tmp_path: Path, tiny_csv: Path
) -> None:
    path = tune_spec(tmp_path, tiny_csv, {"space": {"model.units": [2, 4]}, "repeats": 2})
    plot = tmp_path / "box.png"
    r = CliRunner().invoke(app, ["tune", str(path), "--plot", str(plot)])
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    for header in ("trial", "units", "mean", "std", "min", "max", "state"):
        assert header in out
    assert out.count("complete") >= 2 and "best: trial #" in out
    yaml_text = out[out.index("# best of study") :]
    best = tmp_path / "best.yaml"
    best.write_text(yaml_text)
    assert yaml.safe_load(yaml_text)["model"]["units"] in (2, 4)
    v = CliRunner().invoke(app, ["validate", str(best)])
    assert v.exit_code == 0, v.stderr
    assert plot.read_bytes()[:4] == b"\x89PNG" and f"plot: {plot}" in r.stderr

    # Resuming a finished study runs nothing and reports it again, here for scripts.
    (run_dir,) = (tmp_path / "runs").iterdir()
    j = CliRunner().invoke(app, ["tune", "--resume", str(run_dir), "-f", "json"])
    assert j.exit_code == 0, j.stderr
    data = json.loads(j.stdout)
    assert len(data["trials"]) == 2 and data["best"]["spec"]["model"]["units"] in (2, 4)
    assert len(data["best"]["metrics"]["rmse"]["values"]) == 2 and data["complete"] is True
    c = CliRunner().invoke(app, ["tune", "--resume", str(run_dir), "-f", "csv"])
    assert c.exit_code == 0, c.stderr
    lines = c.stdout.strip().splitlines()
    assert lines[0].startswith("trial,state,model.units,rmse_mean,rmse_std")
    assert len(lines) == 3 and re.match(r"\d+,complete,[24],", lines[1])


def test_a_study_whose_every_trial_failed_exits_1_and_bad_data_exits_2(
    tmp_path: Path, tiny_csv: Path
) -> None:
    path = tune_spec(
        tmp_path,
        tiny_csv,
        {"space": {"train.learning_rate": [1.0e12]}, "repeats": 2},
        train={"epochs": 3, "batch_size": 8, "optimizer": "sgd"},
    )
    r = CliRunner().invoke(app, ["tune", str(path)])
    assert r.exit_code == 1 and r.stdout == ""
    assert "every trial failed" in r.stderr and "loss became inf" in r.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "results.json").read_text())["trials"][0]["state"] == "failed"

    missing = tmp_path / "nope.csv"
    bad = yaml.safe_load(path.read_text())
    bad["data"]["path"] = str(missing)
    path.write_text(yaml.safe_dump(bad))
    r = CliRunner().invoke(app, ["tune", str(path)])
    assert r.exit_code == 2 and str(missing) in r.stderr
    assert len(list((tmp_path / "runs").iterdir())) == 1  # no study was started
