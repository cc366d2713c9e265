"""The compiled replica trainer and plain Keras fit give the same distribution of skill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from lstmctl.api import run


def test_fused_and_keras_fit_agree_over_repeats(tiny_spec: Path, tmp_path: Path) -> None:
    overrides = ["evaluate.repeats=6", "train.epochs=15"]
    fused = run(tiny_spec, overrides, runs_dir=tmp_path / "a").to_json()
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstmctl.cli",
            "run",
            str(tiny_spec),
            "-f",
            "json",
            "--out",
            str(tmp_path / "b"),
            "--set",
            "backend=tensorflow",
            *(a for o in overrides for a in ("--set", o)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    keras_fit = json.loads(p.stdout)
    assert fused["trainer"] == "fused" and keras_fit["trainer"] == "keras"
    a = np.array(fused["metrics"]["rmse"]["values"])
    b = np.array(keras_fit["metrics"]["rmse"]["values"])
    # Different backends draw different initial weights, so the repeats are
    # not equal one by one; their distributions must be.
    spread = max(a.std(ddof=1), b.std(ddof=1), 1e-3)
    assert abs(a.mean() - b.mean()) < 2 * spread, (a, b)
    # Both learned something: far better than a model that learned nothing.
    persistence = fused["baselines"]["persistence"]["rmse"]
    assert a.mean() < 3 * persistence and b.mean() < 3 * persistence
