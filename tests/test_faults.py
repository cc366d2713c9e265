"""Faults injected in-process: a repeat out of memory, a disk that fills up, a read-only --out."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import lifecycle_fixtures as fx
import numpy as np
import pytest
import yaml
from conftest import write_spec
from typer.testing import CliRunner

import lstmctl.rundir as rundir
import lstmctl.training.fit as fit_module
import lstmctl.training.fused as fused
import lstmctl.training.keras_fit as keras_fit
from lstmctl.api import run
from lstmctl.cli import app
from lstmctl.memory import out_of_memory
from lstmctl.modeldir.format import open_model_dir
from lstmctl.training.result import FitResult
from lstmctl.workflows import run as run_workflow

# The session's saved models (see lifecycle_fixtures), bound here for pytest to find.
lifecycle_dir = fx.lifecycle_dir
saved_plain = fx.saved_plain

NEW_ROWS = "month,sales\n2004-01,199.5\n2004-02,204.0\n2004-03,260.0\n"


def digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def disk_full(path: Path | str | None = None) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), None if path is None else str(path))


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text  # one clear line, no traceback
    return lines[0]


# --------------------------------------------------------------------------- out of memory


def test_out_of_memory_is_recognised_by_name_without_importing_a_framework() -> None:
    class ResourceExhaustedError(Exception):  # TensorFlow's, as Keras on TF raises it
        pass

    class XlaRuntimeError(RuntimeError):  # JAX's (JaxRuntimeError in newer JAX)
        pass

    assert out_of_memory(MemoryError()) == "out of memory: MemoryError"
    tf_oom = ResourceExhaustedError("OOM when allocating tensor with shape[30,4]\n[[node]]")
    assert out_of_memory(tf_oom) == "out of memory: OOM when allocating tensor with shape[30,4]"
    xla = XlaRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 8.00GiB.")
    assert out_of_memory(xla) == f"out of memory: {xla}"
    assert out_of_memory(XlaRuntimeError("INTERNAL: something else")) is None
    assert out_of_memory(ValueError("RESOURCE_EXHAUSTED")) is None

    # JAX's own, for real: 256 TiB is more than any address space holds.
    import jax
    import jax.numpy as jnp

    with pytest.raises(Exception) as real:
        jax.jit(lambda: jnp.ones((2**46,), jnp.float32))().block_until_ready()
    assert (out_of_memory(real.value) or "").startswith("out of memory: RESOURCE_EXHAUSTED")


def test_fused_replicas_out_of_memory_are_retried_in_halves_and_one_repeat_fails(
    tiny_spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fused._fit_group
    groups: list[tuple[int, int]] = []

    def no_room_for_seed_2(spec: Any, *args: Any) -> Any:
        seeds = range(spec.seed, spec.seed + spec.evaluate.repeats)
        groups.append((spec.seed, spec.evaluate.repeats))
        if 2 in seeds:  # the second repeat (seed 2) never fits, alone or with others
            raise MemoryError("Unable to allocate 1.00 GiB for an array")
        return real(spec, *args)

    monkeypatch.setattr(fused, "_fit_group", no_room_for_seed_2)
    r = CliRunner().invoke(app, ["run", str(tiny_spec), "--set", "evaluate.repeats=3"])
    assert r.exit_code == 0, r.stderr
    # All three at once, then [1] and [2, 3], then [2] and [3].
    assert groups == [(1, 3), (1, 1), (2, 2), (2, 1), (3, 1)]
    assert "out of memory" in r.stdout  # the failed repeat's row in the table
    (run_dir,) = (tiny_spec.parent / "runs").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complete"] is True and results["repeats"] == 2
    assert results["failed"] == [
        {"repeat": 2, "error": "out of memory: Unable to allocate 1.00 GiB for an array"}
    ]
    rows = {row["repeat"]: row for row in results["per_repeat"]}
    assert [rows[i]["seed"] for i in (1, 2, 3)] == [1, 2, 3]
    assert all(np.isfinite(rows[i]["rmse"]) for i in (1, 3))
    assert len(results["metrics"]["rmse"]["values"]) == 2  # the scored repeats


def fake_fit_one(fail: set[int]) -> Any:
    """keras_fit.fit_one without Keras: repeat k in ``fail`` runs out of accelerator memory."""

    class ResourceExhaustedError(Exception):
        pass

    def fit_one(spec: Any, data: Any, repeat: int, progress: Any = None) -> FitResult:
        if repeat in fail:
            raise ResourceExhaustedError("OOM when allocating tensor with shape[8,4]")
        pred = np.zeros((len(data.X_test), *data.y_test.shape[1:]), np.float32)
        return FitResult(seed=spec.seed + repeat, history={"loss": [0.1]}, test_pred=pred,
                         seconds=0.0, epochs_run=1)  # fmt: skip

    return fit_one


def test_keras_repeat_out_of_memory_fails_alone_and_the_run_goes_on(
    tiny_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fit_module, "use_backend", lambda backend: backend)  # Keras is on JAX here
    monkeypatch.setattr(keras_fit, "fit_one", fake_fit_one({1}))
    res = run(tiny_spec, ["backend=tensorflow", "evaluate.repeats=3"], runs_dir=tmp_path / "r")
    data = res.to_json()
    assert data["trainer"] == "keras" and data["complete"] is True
    assert data["failed"] == [
        {"repeat": 2, "error": "out of memory: OOM when allocating tensor with shape[8,4]"}
    ]
    assert data["repeats"] == 2 and [r["seed"] for r in data["per_repeat"]] == [1, 2, 3]
    saved = json.loads((res.run_dir / "results.json").read_text())
    assert saved["failed"] == data["failed"]

    # Every repeat out of memory: the run fails (exit 1) with one line saying why.
    monkeypatch.setattr(keras_fit, "fit_one", fake_fit_one({0, 1}))
    r = CliRunner().invoke(app, ["run", str(tiny_spec), "--set", "backend=tensorflow"])
    assert r.exit_code == 1 and r.stdout == ""
    line = one_line(r.stderr)
    assert "every repeat failed (first: out of memory: OOM when allocating" in line


def test_keras_path_says_whether_the_loss_became_inf_or_nan(
    tiny_spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras

    from lstmctl.data.prepare import prepare
    from lstmctl.spec import load_spec

    if "tensorflow" not in sys.modules:
        # Keras' own seeding imports TensorFlow (seconds); the JAX-only one does the same here.
        monkeypatch.setattr(keras.utils, "set_random_seed", fused._set_random_seed)
    spec = load_spec(tiny_spec, ["train.optimizer=sgd", "train.learning_rate=1e12"])
    fit = keras_fit.fit_one(spec, prepare(spec), 0)
    assert fit.error == f"loss became inf at epoch {fit.epochs_run}"
    assert fit.epochs_run == 1 and fit.test_pred.size == 0  # TerminateOnNaN stopped it


# --------------------------------------------------------------------------- a disk that fills up


@pytest.fixture
def model_copy(saved_plain: Path, tmp_path: Path) -> Path:
    d = tmp_path / "saved" / "m"
    shutil.copytree(saved_plain, d)
    return d


def assert_intact(d: Path, before: dict[str, str]) -> None:
    assert digest(d) == before
    open_model_dir(d)  # every hash checks out
    assert [p.name for p in d.parent.iterdir()] == [d.name]  # no .m.partial-* or .m.old-*


def test_disk_full_while_saving_an_in_place_update_keeps_the_model(
    model_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lstmctl.workflows.modelfiles as modelfiles

    def save_half(model: Any, path: Path) -> None:
        path.write_bytes(b"PK\x03\x04" + b"\0" * 1000)  # half a zip archive, then the disk is full
        raise disk_full(path)

    monkeypatch.setattr(modelfiles, "save_keras", save_half)
    before = digest(model_copy)
    new = tmp_path / "new.csv"
    new.write_text(NEW_ROWS)
    cmd = ["update", "-m", str(model_copy), "-d", str(new), "-e", "1", "--in-place", "--no-onnx"]
    r = CliRunner().invoke(app, cmd)
    assert r.exit_code == 1 and r.stdout == ""
    line = one_line(r.stderr)
    assert str(model_copy) in line and "No space left on device" in line
    assert "the model there is as it was" in line
    assert_intact(model_copy, before)


def test_disk_full_while_exporting_onnx_keeps_the_model_finalize_force_replaces(
    model_copy: Path, lifecycle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lstmctl.workflows.modelfiles as modelfiles

    def export_half(keras_path: Path, onnx_path: Path) -> dict[str, Any]:
        onnx_path.write_bytes(b"\x08\x07" * 500)
        raise disk_full(onnx_path)

    monkeypatch.setattr(modelfiles, "export_onnx", export_half)
    before = digest(model_copy)
    spec = lifecycle_dir / "plain.yaml"  # the spec saved_plain was finalized from
    r = CliRunner().invoke(
        app, ["finalize", str(spec), "--out", str(model_copy), "--force", "--members", "1"]
    )
    assert r.exit_code == 1 and r.stdout == ""
    line = one_line(r.stderr)
    assert "cannot write the model directory: No space left on device" in line
    assert_intact(model_copy, before)


def test_disk_full_while_saving_results_keeps_the_previous_results_whole(
    tiny_spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    writes = {"results.json": 0}

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        if Path(dst).name == "results.json":
            writes["results.json"] += 1
            if writes["results.json"] == 3:  # the save after the second repeat
                raise disk_full()
        real_replace(src, dst, **kw)

    monkeypatch.setattr(rundir.os, "replace", replace)
    monkeypatch.setattr(run_workflow, "SAVE_EVERY", 0.0)  # a save after every repeat
    r = CliRunner().invoke(app, ["run", str(tiny_spec)])
    assert r.exit_code == 1 and r.stdout == ""
    line = one_line(r.stderr)
    assert "results.json: cannot write this file: No space left on device" in line
    assert "the previous version is kept" in line
    (run_dir,) = (tiny_spec.parent / "runs").iterdir()
    results = json.loads((run_dir / "results.json").read_text())  # whole and parseable
    assert results["complete"] is False and results["repeats"] == 1
    assert not list(run_dir.rglob("*.tmp"))


# --------------------------------------------------------------------------- read-only --out


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def trained(*args: Any, **kw: Any) -> Any:
        raise AssertionError("training started before the output location was checked")

    for module, name in ((fit_module, "iter_repeats"), (fit_module, "fit_repeats"),
                         (fused, "fit_fused")):  # fmt: skip
        monkeypatch.setattr(module, name, trained)


def commands(spec: Path, model: Path, new_rows: Path, out: Path) -> dict[str, list[str]]:
    return {
        "run": ["run", str(spec), "--out", str(out)],
        "tune": ["tune", str(spec), "--out", str(out)],
        "finalize": ["finalize", str(spec), "--out", str(out)],
        "update": ["update", "-m", str(model), "-d", str(new_rows), "-e", "1", "--out", str(out)],
    }


@pytest.fixture
def tunable(tiny_spec: Path) -> Path:
    raw = yaml.safe_load(tiny_spec.read_text())
    raw["tune"] = {"space": {"model.units": [2, 4]}}
    return write_spec(tiny_spec, raw)


@pytest.mark.parametrize("where", ["proc", "under-a-file"])
def test_an_unwritable_out_is_one_clear_line_before_any_training(
    where: str, tunable: Path, saved_plain: Path, tmp_path: Path, no_training: None
) -> None:
    new = tmp_path / "new.csv"
    new.write_text(NEW_ROWS)
    if where == "proc":
        # Not even root writes here (os.access says it may).
        out, named = Path("/proc/lstmctl-test-out"), "/proc"
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        out, named = blocker / "out", str(blocker)
    for name, cmd in commands(tunable, saved_plain, new, out).items():
        r = CliRunner().invoke(app, cmd)
        assert r.exit_code == 2, (name, r.stderr, r.exception)
        assert r.stdout == "", name
        line = one_line(r.stderr)
        assert f"lstmctl: error: {named}" in line, (name, line)
    assert not (tmp_path / "runs").exists()


def test_a_read_only_out_folder_is_refused_before_any_training(
    tunable: Path, saved_plain: Path, tmp_path: Path, no_training: None
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        new = tmp_path / "new.csv"
        new.write_text(NEW_ROWS)
        for name, cmd in commands(tunable, saved_plain, new, locked / "out").items():
            r = CliRunner().invoke(app, cmd)
            assert r.exit_code == 2 and str(locked) in one_line(r.stderr), (name, r.stderr)
    finally:
        locked.chmod(0o755)
