"""The plain Keras path on the TensorFlow backend, in one process for the whole module.

Keras picks its backend once per process, so the TensorFlow path runs in a
child process. Starting TensorFlow costs seconds of every test that does it:
here one ``lstmctl run`` with ``compare:`` variants serves every check of the
path — the fused trainer's distribution of skill against Keras ``fit`` (its
repeats spread over two worker processes, ``train.jobs: 2``), a stateful model
walked forward with a batch-1 twin, and the architectures that add something
new to the plain path (a custom layer, image frames, attention).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tiny_raw_spec, write_spec, write_tiny_csv

# The fused run the Keras one is compared with (same data, same settings).
EQUIVALENCE = ["evaluate.repeats=6", "train.epochs=15"]
VARIANTS: list[list[str]] = [
    [*EQUIVALENCE, "train.jobs=2"],
    ["model.stateful=true", "train.batch_size=4"],
    [
        "data={problem: cumsum, params: {samples: 30}, split: {test: 6}}",
        "model.arch=bidirectional",
        "model.units=3",
        "model.direction=backward",
    ],
    [
        "data={problem: moving_line, params: {samples: 20, size: 5}, split: {test: 6}}",
        "model.arch=cnn_lstm",
        "model.units=3",
    ],
    [
        "data={problem: echo_first, params: {samples: 20}, split: {test: 6}}",
        "model.arch=attention",
        "model.units=3",
    ],
]


@pytest.fixture(scope="module")
def tf_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("tf")
    raw = tiny_raw_spec(folder, write_tiny_csv(folder))
    raw["backend"] = "tensorflow"
    raw["compare"] = VARIANTS
    spec = write_spec(folder / "tf.yaml", raw)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}  # the spec decides
    p = subprocess.run(
        [sys.executable, "-m", "lstmctl.cli", "run", str(spec), "-f", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    # Each variant's own results (per-repeat values, the trainer) are in its run directory.
    results = [
        json.loads((Path(v["run_dir"]) / "results.json").read_text()) for v in out["variants"]
    ]
    return {"out": out, "results": results, "stderr": p.stderr, "spec": spec}


def test_tensorflow_backend_runs_the_plain_keras_path(tf_run: dict[str, Any]) -> None:
    variants = tf_run["out"]["variants"]
    assert [v["error"] for v in variants] == [None] * len(VARIANTS)
    stateful = tf_run["results"][1]
    assert stateful["trainer"] == "keras" and stateful["repeats"] == 2
    assert all(v > 0 for v in stateful["metrics"]["rmse"]["values"])
    assert tf_run["stderr"] == "", tf_run["stderr"]  # TensorFlow's log noise is silenced


def test_jobs_spread_keras_repeats_over_worker_processes(tf_run: dict[str, Any]) -> None:
    spread = tf_run["results"][0]
    # Fitted in two processes, reported in order, each under its own seed.
    assert [r["repeat"] for r in spread["per_repeat"]] == [1, 2, 3, 4, 5, 6]
    assert [r["seed"] for r in spread["per_repeat"]] == [1, 2, 3, 4, 5, 6]
    values = spread["metrics"]["rmse"]["values"]
    assert len(set(values)) == 6 and all(v > 0 for v in values)


def test_fused_and_keras_fit_agree_over_repeats(tf_run: dict[str, Any]) -> None:
    from lstmctl.api import run

    fused = run(tf_run["spec"], [*EQUIVALENCE, "backend=auto", "compare=[]"]).to_json()
    keras_fit = tf_run["results"][0]
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


def test_new_architectures_train_on_the_tensorflow_backend(tf_run: dict[str, Any]) -> None:
    variants = tf_run["results"][2:]
    assert [v["arch"] for v in variants] == ["bidirectional", "cnn_lstm", "attention"]
    for v in variants:
        assert v["repeats"] == 2 and v["trainer"] == "keras"
        assert 0.0 <= v["metrics"]["accuracy"]["mean"] <= 1.0
