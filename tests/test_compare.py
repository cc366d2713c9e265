"""``compare:``: variants of one spec, validated up front, run and shown side by side."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import write_spec
from rich.console import Console
from typer.testing import CliRunner

import lstmctl.api
import lstmctl.workflows.run
from lstmctl.cli import app
from lstmctl.errors import RunError, SpecError
from lstmctl.report.compare import compare_rows, render_compare
from lstmctl.rundir import csv_text
from lstmctl.spec import Spec, load_spec, validate_spec
from lstmctl.workflows.compare import run_compare, variants


def cumsum_spec(tmp_path: Path, **extra: Any) -> Path:
    return write_spec(
        tmp_path / "cmp.yaml",
        {
            "name": "cmp",
            "runs_dir": str(tmp_path / "runs"),
            "data": {"problem": "cumsum", "params": {"samples": 60}, "split": {"test": 20}},
            "model": {"arch": "bidirectional", "units": 3},
            "train": {"epochs": 1, "batch_size": 16},
            "evaluate": {"repeats": 2},
            "compare": ["model.direction=forward", "model.direction=both"],
            **extra,
        },
    )


def test_variants_apply_their_overrides_to_the_spec(tmp_path: Path) -> None:
    spec = load_spec(
        cumsum_spec(tmp_path),
        [
            "compare=[model.direction=forward, [model.units=5, model.merge_mode=sum],"
            " model.stateful=true]"
        ],
    )
    vs = variants(spec)
    assert [v.label for v in vs] == [
        "model.direction=forward",
        "model.units=5, model.merge_mode=sum",
        "model.stateful=true",
    ]
    assert vs[0].spec.model.direction == "forward" and vs[0].spec.model.units == 3
    assert vs[1].spec.model.units == 5 and vs[1].spec.model.merge_mode == "sum"
    # shuffle was resolved from stateful, not chosen: the stateful variant resolves it again.
    assert vs[2].spec.model.stateful and vs[2].spec.train.shuffle is False
    assert all(v.spec.train.epochs == 1 and not v.spec.compare for v in vs)
    assert vs[0].spec.name == "cmp[model.direction=forward]"


@pytest.mark.parametrize(
    ("compare", "where", "message"),
    [
        (["model.direction=forward", "model.direction"], "compare[1]", "key.path=value"),
        (["model.direction=sideways"], "compare[0]: model.direction", "forward"),
        (["model.unitz=3"], "compare[0]: model.unitz", "did you mean model.units"),
        ([[]], "compare[0]", "empty list"),
        (["compare=[]"], "compare[0]", "cannot itself compare"),
    ],
)
def test_bad_variants_fail_before_anything_runs(
    tmp_path: Path, compare: list, where: str, message: str
) -> None:
    spec = load_spec(cumsum_spec(tmp_path, compare=compare))
    with pytest.raises(SpecError, match=message) as e:
        run_compare(spec, runs_dir=tmp_path / "runs")
    assert e.value.where == where
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_compare_must_be_a_list_of_overrides() -> None:
    with pytest.raises(SpecError) as e:
        validate_spec({"data": {"problem": "echo"}, "compare": 3})
    assert "compare" in str(e.value)


def fake_result(spec: Spec, accuracy: float) -> Any:
    metrics = {"accuracy": {"mean": accuracy, "std": 0.0, "min": accuracy, "max": accuracy}}
    return SimpleNamespace(
        summary=SimpleNamespace(metrics={"accuracy": {**metrics["accuracy"], "values": []}}),
        to_json=lambda: {
            "arch": spec.model.arch,
            "repeats": 2,
            "metrics": metrics,
            "baselines": {"majority": {"accuracy": 0.5}},
            "run_dir": "x",
            "seconds": 1.0,
        },
    )


def test_a_failed_variant_is_reported_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(spec: Spec, runs_dir: Any = None, progress: Any = None) -> Any:
        if spec.model.direction == "backward":
            raise RunError("every repeat failed", where="run")
        return fake_result(spec, 0.9 if spec.model.direction == "both" else 0.8)

    monkeypatch.setattr(lstmctl.workflows.run, "run", run)
    spec = load_spec(
        cumsum_spec(tmp_path),
        ["compare=[model.direction=forward, model.direction=backward, model.direction=both]"],
    )
    result = run_compare(spec, runs_dir=tmp_path / "runs")
    out = result.to_json()
    assert [v["variant"] for v in out["variants"]] == result.spec.compare
    assert out["variants"][1]["error"] == "run: every repeat failed"
    assert out["best"] == {"accuracy": "model.direction=both"}
    saved = json.loads((result.run_dir / "compare.json").read_text())
    assert saved["complete"] and saved["best"] == out["best"]
    console = Console(file=io.StringIO(), width=200)
    render_compare(result, console)
    text = console.file.getvalue()
    assert "model.direction" in text and "every repeat failed" in text
    assert "0.900 ± 0.000 *" in text  # the best mean is marked


def test_run_compares_variants_side_by_side(tmp_path: Path) -> None:
    spec = cumsum_spec(tmp_path)
    r = CliRunner().invoke(app, ["run", str(spec), "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["compare"] == ["model.direction=forward", "model.direction=both"]
    assert [v["arch"] for v in out["variants"]] == ["bidirectional"] * 2
    assert all(
        v["repeats"] == 2 and 0 <= v["metrics"]["accuracy"]["mean"] <= 1 for v in out["variants"]
    )
    assert set(out["best"]) == {"accuracy", "sequence_accuracy"}
    # One folder for the comparison, each variant's run directory inside it.
    root = Path(out["run_dir"])
    inside = sorted(p.name for p in root.iterdir())
    assert "compare.json" in inside and len([p for p in inside if p.startswith("cmp")]) == 2
    for v in out["variants"]:
        assert (Path(v["run_dir"]) / "results.json").is_file()
    rows = list(csv.DictReader(io.StringIO(csv_text(compare_rows(out)))))  # what -f csv prints
    assert [row["variant"] for row in rows] == out["compare"]
    assert {"accuracy_mean", "accuracy_std", "sequence_accuracy_max"} <= set(rows[0])


def test_run_without_compare_is_a_plain_run(tmp_path: Path) -> None:
    spec = cumsum_spec(tmp_path)
    r = CliRunner().invoke(
        app, ["run", str(spec), "-f", "csv", "--set", "compare=[]", "--set", "evaluate.repeats=1"]
    )
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 1 and "accuracy" in rows[0]


def test_validate_checks_every_variant(tmp_path: Path) -> None:
    spec = cumsum_spec(tmp_path)
    r = CliRunner().invoke(app, ["validate", str(spec)])
    assert r.exit_code == 0, r.stderr
    r = CliRunner().invoke(app, ["validate", str(spec), "--set", "compare=[data.params.stepz=4]"])
    assert r.exit_code == 2
    assert "data.params.stepz" in r.stderr and "did you mean data.params.steps" in r.stderr
