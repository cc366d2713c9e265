"""Backtests over many origins (evaluate.backtest): folds, fused fits, scoring, refusals."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lstmctl.data.folds import (  # noqa: E402
    backtest_test_rows,
    fold_ranges,
    plan_folds,
    train_target_rows,
)
from lstmctl.errors import DataError, SpecError  # noqa: E402
from lstmctl.spec import load_spec  # noqa: E402
from lstmctl.spec.derive import derive  # noqa: E402

SPEC = "configs/backtest_shampoo.yaml"


# --------------------------------------------------------------------------- the folds


def _windows(n_rows: int, first_test: int, lags: int, lookback: int, horizon: int) -> tuple:
    """Contiguous windows as ``prepare`` cuts them: training origins, test origins."""
    lo = lags + lookback - 1
    train = np.arange(lo, first_test - horizon)  # every target before the test rows
    test = np.arange(first_test - 1, n_rows - horizon)  # first target in the test rows
    return train, test


@settings(max_examples=300, deadline=None)
@given(
    n_rows=st.integers(10, 200),
    n_test=st.integers(1, 24),
    folds=st.integers(1, 8),
    step=st.integers(1, 24),
    horizon=st.integers(1, 4),
    lookback=st.integers(1, 5),
    lags=st.integers(0, 2),
    window=st.sampled_from(["expanding", "sliding"]),
    batch=st.sampled_from([None, 1, 3, 4]),
)
def test_no_fold_trains_on_a_target_it_tests(
    n_rows, n_test, folds, step, horizon, lookback, lags, window, batch
):
    if n_test < horizon:
        return
    try:
        plan = plan_folds(n_rows, n_test, folds, step, lags + lookback + horizon)
    except DataError as e:
        assert e.where == "evaluate.backtest"
        return
    first = plan.test_start(0)
    assert backtest_test_rows(plan) == n_rows - first
    assert plan.test_rows(folds - 1) == range(n_rows - n_test, n_rows)  # the usual test part
    train, test = _windows(n_rows, first, lags, lookback, horizon)
    try:
        ranges = fold_ranges(plan, len(train), test, horizon, window, batch)
    except DataError as e:
        assert e.where == "evaluate.backtest"
        return
    widths = set()
    for f, rng in enumerate(ranges):
        rows = plan.test_rows(f)
        trained = train_target_rows(rng, len(train), test, horizon, int(train[-1]))
        assert trained.max() < rows.start  # no test target (nor a later row) in training
        tested = test[rng.test][:, None] + np.arange(1, horizon + 1)
        assert tested.min() >= rows.start and tested.max() < rows.stop
        assert len(rng.test) == n_test - horizon + 1  # every window inside the test part
        assert 0 <= rng.replay_from <= rng.start and rng.count >= 1
        if batch:
            assert rng.count % batch == 0
        widths.add(rng.count)
        if f:
            assert rng.stop >= ranges[f - 1].stop  # later folds end later
    if window == "sliding":
        assert len(widths) == 1  # a fixed-length window


def test_sliding_window_moves_by_the_step():
    plan = plan_folds(36, 6, 3, 6, 3)
    train, test = _windows(36, plan.test_start(0), 1, 1, 1)
    expanding = fold_ranges(plan, len(train), test, 1, "expanding")
    sliding = fold_ranges(plan, len(train), test, 1, "sliding")
    assert [r.count for r in expanding] == [16, 22, 28]
    assert [r.count for r in sliding] == [16, 16, 16]
    assert [r.start for r in sliding] == [0, 6, 12]
    assert [r.stop for r in sliding] == [r.stop for r in expanding]


def test_folds_that_do_not_fit_name_the_key():
    with pytest.raises(DataError, match="earliest fold 0 training rows") as e:
        plan_folds(36, 12, 5, 6, 3)
    assert e.value.where == "evaluate.backtest"


def test_step_zero_is_a_spec_error():
    with pytest.raises(SpecError) as e:
        load_spec(SPEC, ["evaluate.backtest.step=0"])
    assert e.value.where.endswith("evaluate.backtest.step")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("backend=tensorflow", "backend"),
        ("data.split.validation=4", "data.split.validation"),
        ("evaluate.intervals=[0.8]", "evaluate.intervals"),
    ],
)
def test_unsupported_settings_are_refused(override, key):
    from lstmctl.workflows.backtest import check_backtest

    with pytest.raises(SpecError) as e:
        check_backtest(load_spec(SPEC, [override]))
    assert e.value.where == key


def test_a_backtest_needs_a_series():
    from lstmctl.workflows.backtest import check_backtest

    spec = load_spec(SPEC)
    raw = spec.dump()
    raw["data"] = {"problem": "echo", "split": {"test": 0.2}}
    from lstmctl.spec.messages import validate_raw

    with pytest.raises(SpecError) as e:
        check_backtest(validate_raw(raw, source="t"))
    assert e.value.where == "data.problem"


# --------------------------------------------------------------------------- fused = one by one


def _small(stateful: bool, epochs: int = 15, **values):
    spec = load_spec(SPEC)
    return derive(
        spec,
        {
            "train.epochs": epochs,
            "evaluate.repeats": 2,
            "model.stateful": stateful,
            "train.shuffle": False,
            "evaluate.metrics": ["rmse", "mae"],
            "evaluate.baselines": ["persistence"],
            **values,
        },
        validate=False,
    )


def _scores(spec, data, plan, ranges, fits):
    from lstmctl.evaluation.backtest import score_backtest
    from lstmctl.evaluation.evaluate import baseline_forecasts

    rows = [plan.test_start(f) for f in range(len(ranges))]
    bt = score_backtest(spec, data, plan, ranges, fits, baseline_forecasts(spec, data), rows)
    return np.array([[r.scores["rmse"] for r in f.rows] for f in bt.folds])


def _fold_alone(data, rng):
    """The data a run on one fold alone fits: its range's windows, its test windows."""
    from dataclasses import replace

    X = np.concatenate([data.X_train, data.X_test])
    y = np.concatenate([data.y_train, data.y_test])
    # A stateful fit replays its history from replay_from and trims the oldest windows
    # to whole batches, which leaves exactly the range.
    history = slice(rng.replay_from, rng.stop)
    return replace(
        data,
        X_train=X[history],
        y_train=y[history],
        X_test=data.X_test[rng.test],
        y_test=data.y_test[rng.test],
    )


@pytest.mark.parametrize(
    ("stateful", "window"), [(False, "expanding"), (True, "expanding"), (True, "sliding")]
)
def test_fused_folds_equal_each_fold_fitted_alone(stateful, window):
    """F folds x R repeats in one program = each fold fitted alone by the plain fused trainer."""
    from lstmctl.training.folds_fit import fit_folds
    from lstmctl.training.fused import fit_fused
    from lstmctl.workflows.backtest import prepare_backtest

    spec, data, plan = prepare_backtest(_small(stateful, **{"evaluate.backtest.window": window}))
    batch = spec.train.batch_size if stateful else None
    ranges = fold_ranges(plan, len(data.X_train), data.series.test_origins, 1, window, batch)
    fused = fit_folds(spec, data, ranges)
    alone = [fit_fused(spec, _fold_alone(data, rng)) for rng in ranges]
    for f in range(len(ranges)):
        for a, b in zip(fused[f], alone[f], strict=True):
            assert a.epochs_run == b.epochs_run == spec.train.epochs
            np.testing.assert_allclose(a.test_pred, b.test_pred, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        _scores(spec, data, plan, ranges, fused),
        _scores(spec, data, plan, ranges, alone),
        rtol=1e-5,
    )


def test_one_fold_equals_the_plain_fused_run():
    """A 1-fold backtest is the spec's usual run: the same fit, the same forecasts."""
    from lstmctl.data.prepare import prepare
    from lstmctl.training.folds_fit import fit_folds
    from lstmctl.training.fused import fit_fused
    from lstmctl.workflows.backtest import prepare_backtest

    spec, data, plan = prepare_backtest(_small(True, **{"evaluate.backtest.folds": 1}))
    ranges = fold_ranges(plan, len(data.X_train), data.series.test_origins, 1, "expanding", 4)
    fused = fit_folds(spec, data, ranges)[0]
    plain = fit_fused(spec, prepare(spec))
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_allclose(a.test_pred, b.test_pred, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- the run


def test_run_refit_false_scores_every_fold_from_one_fit(tmp_path):
    from lstmctl.workflows.backtest import run_backtest

    common = {"evaluate.backtest.window": "sliding"}
    refit = run_backtest(_small(False, 5, **common), runs_dir=tmp_path).to_json()
    from lstmctl.workflows.run import run  # hands a backtest over to run_backtest

    once = run(
        _small(False, 5, **common, **{"evaluate.backtest.refit": False}), runs_dir=tmp_path
    ).to_json()
    bt, bt_once = refit["backtest"], once["backtest"]
    assert [f["train_rows"] for f in bt["folds"]] == [18, 18, 18]  # sliding: fixed length
    assert [f["train_rows"] for f in bt_once["folds"]] == [18, 18, 18]
    assert [f["test"] for f in bt["folds"]] == [
        ["2-07", "2-12"],
        ["3-01", "3-06"],
        ["3-07", "3-12"],
    ]
    # Fold 0 trains on the same rows either way; the later folds differ only when refitted.
    first = [f["metrics"]["rmse"]["values"] for f in (bt["folds"][0], bt_once["folds"][0])]
    np.testing.assert_allclose(first[0], first[1], rtol=1e-6)
    assert (
        bt["folds"][2]["metrics"]["rmse"]["values"]
        != bt_once["folds"][2]["metrics"]["rmse"]["values"]
    )
    for key in ("metrics", "baselines", "significance"):
        assert key in bt_once["pooled"]
    assert once["significance"]["vs"] == "persistence"
    assert set(bt_once["settings"]) == {"folds", "step", "window", "refit"}
    run_dir = tmp_path / os.path.basename(once["run_dir"])
    assert (run_dir / "backtest.png").stat().st_size > 0
    assert (run_dir / "results.json").exists()
    # The report: each fold and the pooled row, the verdict, the chart.
    html = (run_dir / "report.html").read_text()
    assert "<h2>Backtest</h2>" in html and "Pooled verdict" in html and "pooled" in html
    assert 'alt="backtest"' in html


def test_the_table_shows_folds_pooled_and_the_verdict():
    import io

    from rich.console import Console

    from lstmctl.report.backtest_view import backtest_lines, render_backtest

    fold = {
        "fold": 0,
        "train_rows": 18,
        "test": ["2-07", "2-12"],
        "metrics": {"rmse": {"mean": 90.0, "std": 6.5}},
        "baselines": {"persistence": {"rmse": 98.3}},
    }
    pooled = {
        "metrics": {"rmse": {"mean": 91.0, "std": 5.0}},
        "baselines": {"persistence": {"rmse": 99.0}},
        "significance": {
            "metric": "rmse",
            "of": "ensemble",
            "verdict": "better than persistence (p = 0.011)",
            "repeats_better": 1.0,
        },
    }
    bt = {"folds": [fold], "pooled": pooled}
    assert backtest_lines(bt, "rmse") == [
        ["0", "2-07 .. 2-12", "18", "90.000 ± 6.500", "98.300"],
        ["pooled", "", "", "91.000 ± 5.000", "99.000"],
    ]
    out = io.StringIO()
    render_backtest(bt, Console(file=out, width=120))
    assert "better than persistence (p = 0.011); 100% of repeats beat it" in out.getvalue()


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_ranged_epoch_visits_its_range_once(shuffle):
    import jax.numpy as jnp

    from lstmctl.training.program import Layout, Program
    from lstmctl.training.replicas import key_data

    lay = Layout(1, 1, 4, 10, 0, 4, False, shuffle, None, ranged=True)
    program = Program(None, None, None, lay)
    st = {"key": jnp.asarray(key_data(3)), "start": jnp.int32(5), "count": jnp.int32(7)}
    order, w = (np.asarray(a).ravel() for a in program.ranged_order(st, jnp.int32(2)))
    assert w.tolist() == [1.0] * 7 + [0.0] * 5  # 2 real batches, then one of weight 0
    visited = order[w > 0]
    assert sorted(visited.tolist()) == list(range(5, 12))
    assert (visited.tolist() != list(range(5, 12))) == shuffle
