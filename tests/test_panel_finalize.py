"""finalize of a panel with ``data.short_series: skip``: the saved model serves exactly the
series that were fitted, scored and calibrated.

A series long enough for the final fit (all rows) but too short for ``run``'s test
and validation parts is left out of every fit finalize makes, as ``run`` leaves it
out: ``preprocess.json`` lists it under ``skipped`` with why, ``predict --series``
refuses it naming why, and the log's warning agrees with the saved directory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from lstmctl.cli import app

runner = CliRunner()
LONG = ("s0", "s1", "s2")


def _panel(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    lines = ["store,date,sales"]
    for k, sid in enumerate(LONG):
        for t in range(30):
            lines.append(f"{sid},2024-01-{t + 1:02d},{100 + 10 * k + 5 * np.sin(t / 3):.3f}")
    for t in range(10):  # long enough for all the rows, not for test + validation
        lines.append(f"s6,2024-01-{t + 1:02d},{50 + rng.random() * 2:.3f}")
    path = folder / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _spec(folder: Path) -> Path:
    raw = {
        "name": "panel-skip",
        "seed": 1,
        "data": {
            "path": str(_panel(folder)),
            "series": "store",
            "time": "date",
            "target": "sales",
            "short_series": "skip",
            "window": {"lookback": 3, "horizon": 1},
            "split": {"test": 7, "validation": 7},
        },
        "model": {"arch": "vanilla", "units": 4},
        "train": {"epochs": 2, "batch_size": 16},
        "evaluate": {"repeats": 2},
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_a_series_run_skips_is_left_out_of_the_saved_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lstmctl.workflows.finalize import finalize

    out = tmp_path / "model"
    with caplog.at_level(logging.WARNING, logger="lstmctl"):
        saved = finalize(_spec(tmp_path), out, onnx=False, members=2)
    assert saved.manifest["trained"]["series"] == len(LONG)
    state = json.loads((out / "preprocess.json").read_text())
    assert [s["id"] for s in state["series"]] == list(LONG)
    assert list(state["skipped"]) == ["s6"]
    assert "last 7 for test" in state["skipped"]["s6"]  # run's parts, not the final fit's
    # Warned once, with the reason the directory keeps: the log never contradicts it.
    warned = [r.getMessage() for r in caplog.records if "'s6' left out" in r.getMessage()]
    assert len(warned) == 1 and state["skipped"]["s6"] in warned[0]
    # The saved spec is the user's (no trace of the derived leave-out).
    assert (out / "spec.yaml").read_text() == saved_spec_text(tmp_path)

    r = runner.invoke(app, ["predict", "--model", str(out), "--series", "s6"])
    assert r.exit_code == 2 and r.stdout == ""
    assert "found 's6' (training left it out, data.short_series: skip:" in r.stderr
    r = runner.invoke(app, ["predict", "--model", str(out), "--series", "s1", "--interval", "0.8"])
    assert r.exit_code == 0, r.stderr


def saved_spec_text(folder: Path) -> str:
    from lstmctl.spec import load_spec

    return load_spec(folder / "spec.yaml").to_yaml()
