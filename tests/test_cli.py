"""Each command through Typer's runner: exit code, stdout and stderr apart."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, write_spec
from typer.testing import CliRunner

from lstmctl.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_run_prints_a_table_and_writes_a_run_directory(tiny_spec: Path, tmp_path: Path) -> None:
    r = invoke("run", str(tiny_spec))
    assert r.exit_code == 0, r.stderr
    assert "rmse" in r.stdout and "persistence" in r.stdout and "summary" in r.stdout
    assert r.stderr == ""  # no progress off a terminal, no TensorFlow chatter
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert {p.name for p in run_dir.iterdir()} >= {"spec.yaml", "results.json", "repeats.csv"}
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complete"] is True and results["repeats"] == 2
    assert len(list((run_dir / "history").glob("repeat-*.json"))) == 2
    assert yaml.safe_load((run_dir / "spec.yaml").read_text())["name"] == "tiny"


def test_run_json_stdout_is_pure_json(tiny_spec: Path) -> None:
    r = invoke("run", str(tiny_spec), "--format", "json", "--set", "evaluate.repeats=3")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)  # nothing but JSON on stdout
    assert data["repeats"] == 3
    rmse = data["metrics"]["rmse"]
    assert len(rmse["values"]) == 3
    assert rmse["min"] <= rmse["median"] <= rmse["max"]
    assert data["baselines"]["persistence"]["rmse"] > 0
    assert Path(data["run_dir"]).is_dir()


def test_run_csv_has_one_row_per_repeat(tiny_spec: Path) -> None:
    r = invoke("run", str(tiny_spec), "-f", "csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["repeat"] for row in rows] == ["1", "2"]
    assert {"seed", "rmse", "mae", "epochs"} <= set(rows[0])


def test_repeats_are_seeded_and_reproducible(tiny_spec: Path) -> None:
    a = json.loads(invoke("run", str(tiny_spec), "-f", "json").stdout)
    b = json.loads(invoke("run", str(tiny_spec), "-f", "json").stdout)
    assert a["metrics"]["rmse"]["values"] == pytest.approx(b["metrics"]["rmse"]["values"])
    assert a["metrics"]["rmse"]["values"][0] != a["metrics"]["rmse"]["values"][1]
    assert a["run_dir"] != b["run_dir"]


def test_shampoo_persistence_is_the_published_figure() -> None:
    r = invoke(
        "run",
        str(ROOT / "configs" / "shampoo.yaml"),
        "--format",
        "json",
        "--set",
        "evaluate.repeats=2",
        "--set",
        "train.epochs=2",
        "--set",
        f"data.path={ROOT / 'datasets' / 'shampoo.csv'}",
        "--set",
        "evaluate.baselines=[persistence]",  # the config's ETS and ARIMA cost seconds
        "--out",
        str(ROOT / ".pytest_cache" / "runs"),
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert round(data["baselines"]["persistence"]["rmse"], 3) == 136.761
    assert data["test_windows"] == 12


def test_bad_set_is_a_one_line_error_with_exit_2(tiny_spec: Path) -> None:
    r = invoke("run", str(tiny_spec), "--set", "model.unitz=3")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.strip().count("\n") == 0
    assert "model.unitz" in r.stderr and "did you mean model.units?" in r.stderr


def test_missing_column_is_a_data_error(tiny_spec: Path) -> None:
    r = invoke("run", str(tiny_spec), "--set", "data.target=salez")
    assert r.exit_code == 2
    assert "salez" in r.stderr and "Traceback" not in r.stderr


def test_bad_csv_value_names_line_and_column(tmp_path: Path, tiny_spec: Path) -> None:
    spec = yaml.safe_load(tiny_spec.read_text())
    csv_path = Path(spec["data"]["path"])
    lines = csv_path.read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",?0.2"
    csv_path.write_text("\n".join(lines) + "\n")
    r = invoke("validate", str(tiny_spec))
    assert r.exit_code == 2
    assert "sales" in r.stderr and "?0.2" in r.stderr and "6" in r.stderr
    r = invoke("validate", str(tiny_spec), "--set", "data.coerce=true")
    assert r.exit_code == 0, r.stderr


def test_validate_ok_and_bad(tiny_spec: Path, tmp_path: Path) -> None:
    r = invoke("validate", str(tiny_spec))
    assert r.exit_code == 0 and r.stdout == "" and "ok" in r.stderr
    bad = write_spec(tmp_path / "bad.yaml", {"data": {"path": "nope.csv", "target": "y"}})
    r = invoke("validate", str(bad))
    assert r.exit_code == 2 and "nope.csv" in r.stderr
    r = invoke("validate", str(tiny_spec), "--set", "model.arch=transformer")
    assert r.exit_code == 2 and "vanilla" in r.stderr


def test_show_config_prints_every_default(tiny_spec: Path) -> None:
    r = invoke("show-config", str(tiny_spec), "--set", "model.units=9")
    assert r.exit_code == 0
    resolved = yaml.safe_load(r.stdout)
    assert resolved["model"]["units"] == 9
    assert resolved["train"]["optimizer"] == "adam"
    assert resolved["data"]["missing"] == "interpolate"
    assert "early_stopping" in resolved["train"]


def test_list_shows_architectures_and_metrics() -> None:
    r = invoke("list")
    assert r.exit_code == 0
    for word in ("architectures", "vanilla", "stacked", "problems", "metrics", "rmse"):
        assert word in r.stdout
    r = invoke("list", "architectures", "--format", "json")
    assert set(json.loads(r.stdout)) == {"architectures"}
    r = invoke("list", "bogus")
    assert r.exit_code == 2 and "architectures" in r.stderr


@pytest.mark.parametrize("arch", ["vanilla", "stacked"])
def test_init_prints_a_spec_that_validates(arch: str, tmp_path: Path, monkeypatch) -> None:
    r = invoke("init", arch)
    assert r.exit_code == 0
    assert f"arch: {arch}" in r.stdout and "#" in r.stdout
    monkeypatch.chdir(ROOT)
    path = tmp_path / "starter.yaml"
    path.write_text(r.stdout)
    r = invoke("validate", str(path))
    assert r.exit_code == 0, r.stderr


def test_init_unknown_architecture() -> None:
    r = invoke("init", "transformer")
    assert r.exit_code == 2 and "known: " in r.stderr


def test_usage_error_exit_code() -> None:
    assert invoke("run").exit_code == 2
    assert invoke("run", "--format", "xml", "x.yaml").exit_code == 2
