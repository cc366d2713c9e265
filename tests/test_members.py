"""The repeats as an ensemble in the model directory: finalize --members, predict, update."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import lifecycle_fixtures as fx
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.errors import ModelDirError, UsageError
from lstmctl.modeldir.format import open_model_dir
from lstmctl.serving.forecast import Predictor
from lstmctl.serving.predict import predict

# The session's one-model directory (see lifecycle_fixtures), bound here for pytest.
lifecycle_dir = fx.lifecycle_dir
saved_plain = fx.saved_plain

runner = CliRunner()


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three stateful members (each with its own LSTM states), exported to ONNX."""
    from lstmctl.workflows.finalize import finalize

    folder = tmp_path_factory.mktemp("members")
    csv_path = fx.series_csv(folder / "series.csv", seed=2)
    spec = fx.spec_file(folder / "stateful.yaml", csv_path, stateful=True)
    return finalize(spec, folder / "saved", onnx=True, members=3).path


def _table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _weights(model: Path) -> list[list[np.ndarray]]:
    md = open_model_dir(model)
    names = ["model.keras", "member-02.keras", "member-03.keras"]
    return [[np.asarray(w) for w in md.load_keras(n).get_weights()] for n in names]


def test_the_directory_lists_every_member(ensemble: Path) -> None:
    md = open_model_dir(ensemble)
    for name in ("member-02.keras", "member-03.onnx", "members.json", "intervals.json"):
        assert name in md.manifest["files"], name
    assert md.manifest["members"] == {"count": 3, "seeds": [3, 4, 5]}
    assert md.manifest["intervals"]["levels"] == [0.8, 0.95]
    states = md.read_json("members.json")["states"]
    # Each member carries its own states; member 1's are also where one model keeps them.
    assert len(states) == 3 and states[0] != states[1]
    assert md.preprocess["states"] == states[0]


def test_one_member_is_the_model_of_before(saved_plain: Path) -> None:
    md = open_model_dir(saved_plain)
    assert sorted(md.files) == ["data.csv", "model.keras", "preprocess.json", "spec.yaml"]
    assert "members" not in md.manifest and "intervals" not in md.manifest
    fc = predict(md, horizon=3, engine="keras", members=True)
    assert fc.columns() == ["origin", "step", "month", "sales", "sales_m01"]
    assert [r["sales"] for r in fc.rows] == [r["sales_m01"] for r in fc.rows]
    with pytest.raises(UsageError, match="--members N"):
        predict(md, horizon=3, engine="keras", intervals=[0.8])


def test_identical_members_forecast_as_the_member(
    ensemble: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = predict(ensemble, horizon=4, members=True).rows
    predictor = Predictor(open_model_dir(ensemble))
    # Every member made the first one: the ensemble is that member.
    monkeypatch.setattr(predictor, "_member_engine", lambda i: predictor.engine)
    predictor.member_states = [predictor.member_states[0]] * 3
    rows = predictor.predict(horizon=4, members=True).rows
    first = [r["sales_m01"] for r in one]
    np.testing.assert_allclose([r["sales"] for r in rows], first, rtol=1e-12)
    assert [r["sales_m03"] for r in rows] == first


def test_interval_columns_are_ordered_and_nested(
    ensemble: Path, caplog: pytest.LogCaptureFixture
) -> None:
    args = ["predict", "-m", str(ensemble), "--horizon", "4", "--members"]
    levels = ["--interval", "0.95", "--interval", "0.8", "--interval", "0.975"]
    r = runner.invoke(app, [*args, *levels])
    assert r.exit_code == 0, r.stderr
    table = _table(r.stdout)
    assert list(table[0]) == [
        "origin", "step", "month", "sales",
        "sales_lo_80", "sales_hi_80", "sales_lo_95", "sales_hi_95",
        "sales_lo_97.5", "sales_hi_97.5",
        "sales_m01", "sales_m02", "sales_m03",
    ]  # fmt: skip
    assert len(table) == 4  # a model of horizon 1: steps 2-4 fed back, member by member
    for row in table:
        v = {k: float(x) for k, x in row.items() if k.startswith("sales")}
        assert v["sales_lo_97.5"] <= v["sales_lo_95"] <= v["sales_lo_80"] <= v["sales"]
        assert v["sales"] <= v["sales_hi_80"] <= v["sales_hi_95"] <= v["sales_hi_97.5"]
        members = [v[f"sales_m0{i}"] for i in (1, 2, 3)]
        assert v["sales"] == pytest.approx(np.mean(members), rel=1e-12)
    # 0.975 was not calibrated at finalize: the saved windows calibrate it, with a warning.
    assert "0.975 interval needs at least 39 calibration windows" in caplog.text
    j = runner.invoke(app, [*args, *levels, "--format", "json"])
    records = json.loads(j.stdout)
    assert [list(rec) for rec in records] == [list(row) for row in table]
    assert [rec["sales_hi_95"] for rec in records] == [float(row["sales_hi_95"]) for row in table]
    bad = runner.invoke(app, [*args, "--interval", "80"])
    assert bad.exit_code == 2 and "(0, 1)" in bad.stderr and bad.stdout == ""


def test_intervals_survive_saving_and_both_engines_agree(ensemble: Path) -> None:
    new_rows = "month,sales\n2004-01,199.5\n2004-02,204.0\n2004-03,201.25\n"
    runs = [predict(ensemble, new_rows, intervals=[0.8, 0.95]) for _ in range(2)]
    assert runs[0].engine == "onnx" and runs[0].rows == runs[1].rows
    # The saved calibrator, and one fitted again on the saved windows, agree.
    again = predict(ensemble, new_rows, intervals=[0.8, 0.7]).rows
    assert [r["sales_lo_80"] for r in again] == [r["sales_lo_80"] for r in runs[0].rows]
    keras = predict(ensemble, new_rows, engine="keras", intervals=[0.8, 0.95])
    assert keras.engine == "keras" and keras.columns() == runs[0].columns()
    for a, b in zip(runs[0].rows, keras.rows, strict=True):
        for c in ("sales", "sales_lo_80", "sales_hi_80", "sales_lo_95", "sales_hi_95"):
            assert abs(a[c] - b[c]) < 1e-5, c


def test_update_moves_every_member_on_and_keeps_the_calibration(
    ensemble: Path, tmp_path: Path
) -> None:
    new = tmp_path / "new.csv"
    new.write_text("month,sales\n2004-01,199.5\n2004-02,204.0\n2004-03,201.25\n")
    out = tmp_path / "updated"
    r = runner.invoke(
        app,
        ["update", "-m", str(ensemble), "-d", str(new), "--epochs", "2", "-o", str(out)]
        + ["--no-onnx", "-f", "json"],
    )
    assert r.exit_code == 0, r.stderr
    assert len(json.loads(r.stdout)["trained"]["fine_tuned"]["member_weight_changes"]) == 3
    for before, after in zip(_weights(ensemble), _weights(out), strict=True):
        assert max(float(np.max(np.abs(a - b))) for a, b in zip(before, after, strict=True)) > 0
    assert (out / "intervals.json").read_bytes() == (ensemble / "intervals.json").read_bytes()
    fc = predict(out, horizon=2, intervals=[0.8], members=True)
    assert fc.engine == "keras" and fc.rows[0]["origin"] == "2004-03"
    assert fc.rows[0]["sales_lo_80"] <= fc.rows[0]["sales"] <= fc.rows[0]["sales_hi_80"]


def test_a_tampered_member_is_refused(ensemble: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ensemble, copy)
    member = copy / "member-03.onnx"
    member.write_bytes(member.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ModelDirError, match="modified after it was saved"):
        open_model_dir(copy)
    r = runner.invoke(app, ["predict", "-m", str(copy)])
    assert r.exit_code == 2 and "member-03.onnx" in r.stderr and r.stdout == ""


def test_predicting_with_members_imports_no_framework(ensemble: Path) -> None:
    code = (
        "import sys; from lstmctl.serving.predict import predict; "
        f"f = predict({str(ensemble)!r}, horizon=2, intervals=[0.8], members=True); "
        "assert f.engine == 'onnx'; "
        "heavy = ('tensorflow', 'keras', 'jax', 'sklearn', 'scipy'); "
        "bad = [m for m in heavy if m in sys.modules]; "
        "assert not bad, bad; print(len(f.rows))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "2"


def test_the_command_saves_an_ensemble_and_refit_trains_it_again(tmp_path: Path) -> None:
    spec = fx.spec_file(tmp_path / "s.yaml", fx.series_csv(tmp_path / "s.csv", n=30))
    raw = yaml.safe_load(spec.read_text())
    raw["evaluate"]["intervals"] = [0.5, 0.75]  # the levels calibrated at finalize
    spec.write_text(yaml.safe_dump(raw))
    out = tmp_path / "saved"
    args = ["finalize", str(spec), "--out", str(out), "--no-onnx", "-f", "json"]
    r = runner.invoke(app, [*args, "--members", "2"])
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["members"]["count"] == 2 and info["intervals"]["windows"] == 6
    assert info["intervals"]["levels"] == [0.5, 0.75]
    assert "member-02.keras" in info["files"] and "member-03.keras" not in info["files"]
    zero = runner.invoke(app, [*args, "--members", "0", "--force"])
    assert zero.exit_code == 2 and "--members" in zero.stderr
    new = tmp_path / "new.csv"
    new.write_text("month,sales\n2002-07,160.5\n2002-08,163.0\n")
    refit = tmp_path / "refit"
    r = runner.invoke(
        app,
        [
            "update",
            "-m",
            str(out),
            "-d",
            str(new),
            "--scheme",
            "refit",
            "-o",
            str(refit),
            "--no-onnx",
        ],
    )
    assert r.exit_code == 0, r.stderr
    md = open_model_dir(refit)
    assert md.manifest["members"]["count"] == 2 and md.has("intervals.json")
    assert md.manifest["trained"]["rows"] == 32
