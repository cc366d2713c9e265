"""`lstmctl` as a real process on the TensorFlow path: Ctrl-C, worker processes.

(The plain path itself and its clean stderr: tests/test_tensorflow_path.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

LSTMCTL = [sys.executable, "-m", "lstmctl.cli"]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.pop("KERAS_BACKEND", None)  # the spec's backend decides
    return e


def test_ctrl_c_keeps_finished_repeats_and_exits_130(tiny_spec: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            *LSTMCTL,
            "run",
            str(tiny_spec),
            "--set",
            "backend=tensorflow",
            "--set",
            "evaluate.repeats=50",
            "--set",
            "train.epochs=30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    deadline = time.time() + 240
    while time.time() < deadline and not list(runs.glob("*/history/repeat-01.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    (run_dir,) = runs.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complete"] is False
    assert 1 <= results["repeats"] < 50
    assert len(results["per_repeat"]) == results["repeats"]
    assert yaml.safe_load((run_dir / "spec.yaml").read_text())["evaluate"]["repeats"] == 50
    assert not list(run_dir.rglob("*.tmp"))  # nothing half-written


def test_jobs_spread_keras_repeats_over_worker_processes(tiny_spec: Path, tmp_path: Path) -> None:
    p = subprocess.run(
        [
            *LSTMCTL,
            "run",
            str(tiny_spec),
            "-f",
            "json",
            "--set",
            "backend=tensorflow",
            "--set",
            "evaluate.repeats=3",
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert [r["repeat"] for r in data["per_repeat"]] == [1, 2, 3]
    assert [r["seed"] for r in data["per_repeat"]] == [1, 2, 3]
    values = data["metrics"]["rmse"]["values"]
    assert len(set(values)) == 3 and all(v > 0 for v in values)
