"""Keeping a saved model current, and lesson 13's update experiment inside a run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lifecycle_fixtures as fx
import numpy as np
import pytest
from lifecycle_fixtures import series_csv, spec_file
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.modeldir.format import open_model_dir
from lstmctl.workflows.update import update

# The session's saved models (see lifecycle_fixtures), bound here for pytest to find.
lifecycle_dir = fx.lifecycle_dir
saved_plain = fx.saved_plain


# Three new months, the last well above anything seen in training.
NEW_ROWS = "month,sales\n2004-01,199.5\n2004-02,204.0\n2004-03,260.0\n"


def digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def weights(d: Path) -> list[np.ndarray]:
    return [np.asarray(w) for w in open_model_dir(d).load_keras().get_weights()]


@pytest.fixture(scope="module")
def new_rows(lifecycle_dir: Path) -> Path:
    path = lifecycle_dir / "new.csv"
    path.write_text(NEW_ROWS)
    return path


@pytest.mark.parametrize("scheme", ["fine-tune", "fine-tune-all", "refit"])
def test_each_scheme_updates_a_copy(
    scheme: str, saved_plain: Path, new_rows: Path, tmp_path: Path
) -> None:
    before = digest(saved_plain)
    out = tmp_path / scheme
    res = update(saved_plain, new_rows, scheme=scheme, epochs=2, out=out, onnx=False)
    assert digest(saved_plain) == before  # the source directory is untouched
    old, new = open_model_dir(saved_plain), open_model_dir(out)
    pre_old, pre_new = old.preprocess, new.preprocess
    assert pre_new["rows"] == pre_old["rows"] + 3
    assert pre_new["tail"]["labels"][-1] == "2004-03"
    assert new.read_bytes("data.csv").decode().endswith("2004-03,260.0\n")
    assert res.manifest["lineage"]["scheme"] == scheme
    assert res.manifest["lineage"]["parent"]["path"] == str(saved_plain)
    w_old, w_new = weights(saved_plain), weights(out)
    changed = max(float(np.abs(a - b).max()) for a, b in zip(w_old, w_new, strict=True))
    assert changed > 0
    old_scale = pre_old["scale"]["targets"]["columns"]["sales"]
    new_scale = pre_new["scale"]["targets"]["columns"]["sales"]
    if scheme == "refit":
        # A fresh fit on old + new rows: the scaler is refitted (the jump to 260 is new).
        assert new_scale["data_max"] > old_scale["data_max"]
        assert res.manifest["trained"]["windows"] == 47
    else:
        # Fine-tuning keeps the scaler the network was trained with.
        assert new_scale == old_scale
        tuned = res.manifest["trained"]["fine_tuned"]
        # fine-tune: the 3 windows with a new target; fine-tune-all: all 47.
        assert tuned["windows"] == (3 if scheme == "fine-tune" else 47)
        assert tuned["max_weight_change"] == pytest.approx(changed, rel=1e-5)
        assert res.manifest["trained"]["windows"] == 44  # the original fit, as it was


def test_update_cli_needs_a_destination_and_epochs(
    saved_plain: Path, new_rows: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["update", "--model", str(saved_plain), "--data", str(new_rows)]
    res = runner.invoke(app, [*base, "--epochs", "1"])
    assert res.exit_code == 2 and "--out" in res.stderr
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--epochs" in res.stderr
    res = runner.invoke(app, [*base, "--scheme", "retrain", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "fine-tune, fine-tune-all, refit" in res.stderr
    assert not (tmp_path / "x").exists()


def test_in_place_update_replaces_the_directory(
    saved_plain: Path, new_rows: Path, tmp_path: Path
) -> None:
    import shutil

    d = tmp_path / "m"
    shutil.copytree(saved_plain, d)
    res = CliRunner().invoke(
        app,
        ["update", "-m", str(d), "-d", str(new_rows), "--epochs", "1", "--in-place", "--no-onnx"],
    )
    assert res.exit_code == 0, res.stderr
    assert "fine-tune for 1 epochs on 3 windows" in res.stdout
    assert open_model_dir(d).preprocess["rows"] == 51
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # nothing left beside it


def test_update_experiment_runs_the_schemes_side_by_side(tmp_path: Path) -> None:
    from lstmctl.api import run
    from lstmctl.spec import load_spec

    csv = series_csv(tmp_path / "s.csv", n=30)
    spec = load_spec(
        spec_file(tmp_path / "s.yaml", csv, stateful=True),
        ["data.split.test=4", "evaluate.update.schemes=[none,fine-tune,fine-tune-all]"],
    )
    res = run(spec, runs_dir=tmp_path / "runs")
    up = res.updating
    assert up is not None and list(up.scores) == ["none", "fine-tune", "fine-tune-all"]
    assert up.epochs == 2
    rmse = [r.scores["rmse"] for r in res.rows]
    # `none` is the run's own fixed models; the updated ones differ from them.
    assert [s["rmse"] for s in up.scores["none"]] == rmse
    for scheme in ("fine-tune", "fine-tune-all"):
        got = [s["rmse"] for s in up.scores[scheme]]
        assert all(np.isfinite(got)) and got != rmse
    saved = json.loads((res.run_dir / "results.json").read_text())
    assert set(saved["update"]["schemes"]) == {"none", "fine-tune", "fine-tune-all"}


def test_update_forecaster_reproduces_the_runs_forecasts(tmp_path: Path) -> None:
    """The walk-forward forecaster, given the fitted weights, gives the run's own forecasts."""
    from lstmctl.data.prepare import prepare
    from lstmctl.evaluation.updating import _Forecaster
    from lstmctl.spec import load_spec
    from lstmctl.training.fit import fit_repeats

    csv = series_csv(tmp_path / "s.csv", n=30)
    spec = load_spec(spec_file(tmp_path / "s.yaml", csv, stateful=True), ["data.split.test=4"])
    data = prepare(spec)
    fits = fit_repeats(spec, data)
    fc = _Forecaster(spec, data)
    history = np.concatenate([data.X_train, data.X_val])
    for t in range(len(data.X_test)):
        got = fc(
            [f.weights for f in fits], np.concatenate([history, data.X_test[:t]]), data.X_test[t]
        )
        want = np.stack([f.test_pred[t] for f in fits])
        np.testing.assert_allclose(got, want, atol=1e-5)
