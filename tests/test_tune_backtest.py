"""`tune` with `evaluate.backtest`: every trial a backtest, ranked by its pooled score."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_temp, tiny_raw_spec, write_spec

from lstmctl.api import tune, validate
from lstmctl.errors import SpecError


@pytest.fixture(autouse=True)
def shared_compile_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    # The trials and the backtest runs of the same shapes compile once.
    monkeypatch.setenv("LSTMCTL_JAX_CACHE", str(shared_temp(tmp_path_factory) / "jax-cache"))


def backtest_tune_spec(
    tmp_path: Path, tiny_csv: Path, tune_section: dict[str, Any], folds: int = 2, step: int = 6
) -> Path:
    """The conftest's tiny problem (60 rows) backtested over 2 folds of 12 months, 6 apart."""
    raw: dict[str, Any] = tiny_raw_spec(tmp_path, tiny_csv)
    raw["evaluate"]["backtest"] = {"folds": folds, "step": step, "window": "expanding"}
    raw["tune"] = {"repeats": 2, "strategy": "grid", **tune_section}
    return write_spec(tmp_path / "tune.yaml", raw)


def test_trials_rank_by_the_pooled_score_that_run_reports(tmp_path: Path, tiny_csv: Path) -> None:
    from rich.console import Console

    from lstmctl.spec.derive import best_spec
    from lstmctl.tuning.report import render_tune
    from lstmctl.workflows.backtest import run_backtest

    path = backtest_tune_spec(tmp_path, tiny_csv, {"space": {"model.units": [2, 4]}})
    res = tune(path)
    assert [r.state for r in res.rows] == ["complete", "complete"]
    means = [r.summary["mean"] for r in res.rows]
    assert means == sorted(means)  # rmse: best (lowest pooled mean) first
    for row in res.rows:
        # The same configuration run as a backtest: its pooled rmse, repeat by repeat.
        ran = run_backtest(best_spec(res.spec, row.params), runs_dir=tmp_path / "runs")
        pooled = [r.scores["rmse"] for r in ran.backtest.pooled.rows]
        assert row.values == pytest.approx(pooled, rel=1e-6, abs=1e-6)
        assert row.summary["mean"] == pytest.approx(
            ran.backtest.pooled.metrics["rmse"]["mean"], rel=1e-6
        )
        assert len(row.folds) == 2
        for kept, fold in zip(row.folds, ran.backtest.folds, strict=True):
            expected = [r.scores["rmse"] for r in fold.rows]
            assert kept["scores"]["rmse"] == pytest.approx(expected, rel=1e-6, abs=1e-6)
        assert row.baseline == {"persistence": pytest.approx(ran.baselines["persistence"]["rmse"])}

    data = res.to_json()
    assert data["objective"]["pooled_over_folds"] == 2
    assert data["backtest"]["folds"] == 2
    assert [len(t["folds"]) for t in data["trials"]] == [2, 2]
    out = io.StringIO()
    render_tune(res, Console(file=out, width=200))
    text = out.getvalue()
    assert "pooled over 2 folds" in text
    assert "backtest:" in res.best_yaml()  # `lstmctl run best.yaml` backtests it too


def test_validate_refuses_a_choice_whose_folds_do_not_fit(tmp_path: Path, tiny_csv: Path) -> None:
    # 4 folds, 12 apart: a test part of 20 runs alone (40 training rows), but the
    # folds then test the last 56 of 60 rows, and the earliest trains on 4.
    space = {"space": {"data.split.test": [12, 20]}}
    path = backtest_tune_spec(tmp_path, tiny_csv, space, folds=4, step=12)
    with pytest.raises(SpecError) as e:
        validate(path)
    assert e.value.where.endswith("tune.space.data.split.test")
    assert "20 is not a valid choice" in e.value.message
    assert "fold" in e.value.message


def test_epoch_pruning_on_val_loss_is_refused_with_a_backtest(
    tmp_path: Path, tiny_csv: Path
) -> None:
    path = backtest_tune_spec(
        tmp_path,
        tiny_csv,
        {"space": {"model.units": [2, 4]}, "pruning": {"epochs": {"monitor": "val_loss"}}},
    )
    with pytest.raises(SpecError) as e:
        validate(path)
    assert e.value.where.endswith("tune.pruning.epochs.monitor")


def test_epoch_pruning_reads_every_folds_training_loss(tmp_path: Path, tiny_csv: Path) -> None:
    # A learning rate of 1e-7 leaves every replica at its initial weights: its training
    # loss, over every fold's fits, stays above the trained configurations' median.
    raw_tune = {
        "space": {"train.learning_rate": [0.03, 0.02, 1e-7]},
        "seed": 5,  # both trained configurations run before the hopeless one
        "pruning": {"epochs": {"monitor": "loss", "warmup": 2, "min_trials": 2}},
    }
    path = backtest_tune_spec(tmp_path, tiny_csv, raw_tune)
    res = tune(path, overrides=["train.epochs=20"])
    rows = {r.params["train.learning_rate"]: r for r in res.rows}
    assert max(rows.values(), key=lambda r: r.number) is rows[1e-7]
    assert rows[0.03].state == rows[0.02].state == "complete"
    hopeless = rows[1e-7]
    assert hopeless.state == "pruned" and hopeless.repeats == 0
    assert "loss" in hopeless.note and "median" in hopeless.note
