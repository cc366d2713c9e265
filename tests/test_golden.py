"""Golden values: the restructure into layers changed no computation.

``tests/golden/values.json`` holds the per-repeat scores of three shipped
configs and a finalize + ``predict --horizon 12`` output, recorded before the
code moved. Each is run again here through the CLI and must agree to a
relative 1e-4: loose enough for another CPU's rounding, far too tight for a
changed computation (a different seed, transform, split or update order
moves the scores by percents).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lstmctl.cli import app

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = json.loads((Path(__file__).parent / "golden" / "values.json").read_text())
RTOL = 1e-4

runner = CliRunner()


def _sets(overrides: list[str]) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


@pytest.mark.parametrize("name", ["shampoo", "airline", "echo"])
def test_run_scores_are_the_recorded_ones(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = GOLDEN[name]
    monkeypatch.chdir(ROOT)  # the configs name their data relative to the repository
    # Only the recorded baselines: the configs' ETS and ARIMA cost seconds and are
    # tested on their own (tests/test_baselines.py).
    recorded = [f"evaluate.baselines=[{', '.join(golden['baselines'])}]"]
    r = runner.invoke(
        app,
        [
            "-q",
            "run",
            golden["config"],
            *_sets([*golden["overrides"], *recorded]),
            "--format",
            "json",
            "--out",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.stderr
    results = json.loads(r.stdout)
    for metric, values in golden["metrics"].items():
        assert results["metrics"][metric]["values"] == pytest.approx(values, rel=RTOL), metric
    for baseline, scores in golden["baselines"].items():
        # The recorded metrics (a config may score more since, e.g. mase).
        found = {m: results["baselines"][baseline][m] for m in scores}
        assert found == pytest.approx(scores, rel=RTOL), baseline


def test_finalize_then_predict_is_the_recorded_forecast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = GOLDEN["finalize_predict"]
    monkeypatch.chdir(ROOT)
    model = tmp_path / "airline"
    r = runner.invoke(
        app,
        [
            "finalize",
            golden["config"],
            *_sets(golden["overrides"]),
            "--no-onnx",
            "--members",  # recorded before ensembles: one model, as finalize made then
            "1",
            "--out",
            str(model),
        ],
    )
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(
        app,
        ["predict", "--model", str(model), "--horizon", str(golden["horizon"]), "--format", "csv"],
    )
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["Month"] for row in rows] == golden["Month"]
    forecast = [float(row["Passengers"]) for row in rows]
    assert forecast == pytest.approx(golden["Passengers"], rel=RTOL)
