"""SIGINT and SIGTERM stop `run`, `tune` and `update` cleanly (real processes, real signals)."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import lifecycle_fixtures as fx
import pytest
import yaml
from conftest import shared_temp
from test_tune import tune_spec

from lstmctl import signals
from lstmctl.api import tune
from lstmctl.modeldir.format import open_model_dir
from lstmctl.training import fused, keras_fit, replicas

# The session's saved models (see lifecycle_fixtures), bound here for pytest to find.
lifecycle_dir = fx.lifecycle_dir
saved_plain = fx.saved_plain

LSTMCTL = [sys.executable, "-m", "lstmctl.cli"]


def start(*args: str, tensorflow: bool = False, cache: Path | None = None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if tensorflow:
        env.pop("KERAS_BACKEND", None)  # the spec's backend decides
    elif cache is not None:
        env["LSTMCTL_JAX_CACHE"] = str(cache)
    else:
        # The compile cache this process filled: the tiny spec's programs are reads there.
        from lstmctl.training.backend import use_backend

        use_backend("auto")
        import jax

        filled = getattr(jax.config, "jax_compilation_cache_dir", None)
        if filled and "LSTMCTL_JAX_CACHE" not in env:
            env["LSTMCTL_JAX_CACHE"] = str(filled)
    return subprocess.Popen(
        [*LSTMCTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for(ready: Callable[[], bool], *procs: subprocess.Popen[str], limit: float = 240) -> None:
    """Poll an on-disk marker while the processes run; fail with their stderr if one ends."""
    deadline = time.monotonic() + limit
    while not ready():
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"exited {p.returncode} before the marker: {p.communicate()[1]}")
        if time.monotonic() > deadline:
            pytest.fail("the marker did not appear in time")
        time.sleep(0.05)


def stop_all(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.communicate()


def test_handler_raises_once_then_ignores_a_second_signal_while_cleaning_up() -> None:
    with signals.handled(announce=False):
        with pytest.raises(signals.Signalled) as e:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs at the next bytecode
        assert e.value.signum == signal.SIGTERM and signals.exit_code(e.value) == 143
        os.kill(os.getpid(), signal.SIGINT)  # ignored: the first one's cleanup goes on
        time.sleep(0.01)
        assert signals.received() == signal.SIGTERM
    assert signals.received() is None and not signals.installed()
    assert signals.exit_code(KeyboardInterrupt()) == 130  # a library caller's Ctrl-C

    # deferred(): held back until the block (an import of JAX, say) is done.
    done = []
    held = pytest.raises(signals.Signalled)
    with signals.handled(announce=False), held as e2, signals.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        done.append("the block")
    assert done == ["the block"] and e2.value.signum == signal.SIGINT


def test_a_polled_block_notes_the_signal_and_raises_it_at_a_safe_point() -> None:
    # Inside polled() (the plain Keras fit, where an exception raised in the middle
    # of TensorFlow's work can crash the process) the handler only notes the signal.
    with signals.handled(announce=False):
        with pytest.raises(signals.Signalled) as e, signals.polled():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler has run, and raised nothing
            reached = True
            signals.check()  # the safe point raises it
        assert reached and e.value.signum == signal.SIGINT
    with signals.handled(announce=False):
        # No safe point inside: the signal is raised as the block ends.
        with pytest.raises(signals.Signalled), signals.polled():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            reached = True
        assert reached


def drop_a_signal(signum: int) -> None:
    """Send ``signum`` to this process while a garbage-collector callback runs.

    The handler runs inside the callback, where Python prints and drops any
    exception ("Exception ignored in: <function _xla_gc_callback ...>").
    """

    def collecting(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            os.kill(os.getpid(), signum)
            time.sleep(0.01)  # the handler runs here, inside the callback

    gc.callbacks.append(collecting)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(collecting)


def test_a_signal_dropped_where_python_ignores_exceptions_is_raised_at_the_next_check(
    capfd: pytest.CaptureFixture[str],
) -> None:
    signals.check()  # no handler: nothing to raise
    with signals.handled(announce=False):
        signals.check()  # no signal yet
        drop_a_signal(signal.SIGTERM)
        assert signals.received() == signal.SIGTERM
        with pytest.raises(signals.Signalled) as e:
            signals.check()
        assert e.value.signum == signal.SIGTERM
        with signals.deferred():
            signals.check()  # held back there, as the handler's raise is
        os.kill(os.getpid(), signal.SIGINT)  # the second: ignored during the cleanup
        time.sleep(0.01)

    # Until a check raises it, a second signal raises the first instead of being ignored.
    with signals.handled(announce=False), pytest.raises(signals.Signalled) as e2:
        drop_a_signal(signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    assert e2.value.signum == signal.SIGINT
    assert "Exception ignored" not in capfd.readouterr().err


@pytest.fixture
def on_jax() -> None:
    """Keras on JAX, with the compile cache the lstmctl command uses (once per process)."""
    from lstmctl.training.backend import use_backend

    use_backend("auto")


def test_the_trainers_stop_at_the_next_step_after_a_dropped_signal(
    monkeypatch: pytest.MonkeyPatch, on_jax: None
) -> None:
    from test_fused import make_spec, sine

    data = sine(12)
    spec = make_spec(repeats=2, epochs=40)
    # The compiled trainer: at the next compiled call (there are 20 chunks of epochs).
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        drop_a_signal(signal.SIGTERM)

    with signals.handled(announce=False), pytest.raises(signals.Signalled) as e:
        fused.fit_fused(spec, data, progress=progress)
    assert e.value.signum == signal.SIGTERM and calls == [(2, 40)]

    # Building the replicas (minutes for many): at the next one.
    built: list[int] = []
    build = replicas.build_model

    def build_and_drop(*args: Any) -> Any:
        built.append(1)
        drop_a_signal(signal.SIGINT)
        return build(*args)

    monkeypatch.setattr(replicas, "build_model", build_and_drop)
    with signals.handled(announce=False), pytest.raises(signals.Signalled):
        fused.fit_fused(make_spec(repeats=5), data)
    assert built == [1]
    monkeypatch.undo()

    # The plain Keras path: at the end of the next batch.
    epochs: list[int] = []

    def keras_progress(repeat: int, done: int, total: int) -> None:
        epochs.append(done)
        drop_a_signal(signal.SIGINT)

    with signals.handled(announce=False), pytest.raises(signals.Signalled):
        keras_fit.fit_one(spec, data, 0, keras_progress)
    assert epochs == [1]


def test_many_replicas_are_fitted_in_blocks_seeded_as_one_program(
    monkeypatch: pytest.MonkeyPatch, on_jax: None
) -> None:
    from test_fused import make_spec, max_diff, sine

    data = sine(12)
    spec = make_spec(repeats=3, epochs=40)
    whole = fused.fit_fused(spec, data)
    monkeypatch.setattr(fused, "BLOCK", 2)
    monkeypatch.setattr(fused, "CALL_SECONDS", 0.0)  # one epoch per compiled call, not two
    seen: list[tuple[int, int, int]] = []
    blocks = list(fused.iter_fused(spec, data, lambda *a: seen.append(a)))
    assert [len(b) for b in blocks] == [2, 1]
    assert [r.seed for b in blocks for r in b] == [r.seed for r in whole]
    for r, w in zip([r for b in blocks for r in b], whole, strict=True):
        assert max_diff(r.weights, w.weights) < 1e-6
        assert r.history["loss"] == pytest.approx(w.history["loss"], rel=1e-5)
    # Progress counts the repeats of the blocks that finished.
    assert [s for s in seen if s[1] == s[2]] == [(1, 40, 40), (2, 40, 40)]
    assert len(seen) == 40  # each block's 20 chunks


# `lstmctl` with one garbage collection that takes long, as JAX's collector
# callback can: the first time one starts once the trainer runs, it says so on
# stderr and sleeps, so that a signal sent then is handled inside the callback.
SLOW_GC = """
import gc, os, sys, time
def slow(phase, info, done=[]):
    if phase == "start" and not done and "lstmctl.training.fused" in sys.modules:
        done.append(1)
        os.write(2, b"in a gc callback\\n")
        time.sleep(120)
gc.callbacks.append(slow)
from lstmctl.cli import main
sys.argv[0] = "lstmctl"
main()
"""


class Watched:
    """A started `lstmctl` whose stderr is read as it comes (to wait for a line on it)."""

    def __init__(self, *args: str, slow_gc: bool = False) -> None:
        from lstmctl.training.backend import use_backend

        use_backend("auto")
        import jax

        env = dict(os.environ)
        cache = getattr(jax.config, "jax_compilation_cache_dir", None)
        if cache and "LSTMCTL_JAX_CACHE" not in env:
            env["LSTMCTL_JAX_CACHE"] = str(cache)  # this process's compiled programs
        head = [sys.executable, "-c", SLOW_GC] if slow_gc else LSTMCTL
        self.proc = subprocess.Popen(
            [*head, "-v", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.signalled = 0.0

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def said(self, text: str) -> Callable[[], bool]:
        return lambda: any(text in line for line in list(self.lines))

    def signal(self, signum: int) -> None:
        self.signalled = time.monotonic()
        self.proc.send_signal(signum)

    def stopped(self, limit: float) -> tuple[int, float, str]:
        """The exit status, the seconds from the signal to the exit, and stderr."""
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=limit)
        took = time.monotonic() - self.signalled
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(10)
        return self.proc.returncode, took, "".join(self.lines)


def test_one_signal_stops_a_run_and_a_diagnosis_of_100000_repeats(tiny_spec: Path) -> None:
    one_epoch = ["--set", "train.epochs=1"]
    # The run's SIGINT comes inside a garbage-collector callback, where the handler's
    # exception is dropped (the reported run went on for minutes); the diagnosis gets
    # `timeout`'s SIGTERM while it builds the replicas (minutes for 100000).
    run = Watched(
        "run", str(tiny_spec), "--set", "evaluate.repeats=100000", *one_epoch, slow_gc=True
    )
    diag = Watched("diagnose", str(tiny_spec), "--repeats", "100000", *one_epoch)
    procs = [run.proc, diag.proc]
    try:
        wait_for(run.said("in a gc callback"), *procs)
        run.signal(signal.SIGINT)
        wait_for(diag.said("building 1024 replicas"), diag.proc)
        diag.signal(signal.SIGTERM)
        (run_rc, run_s, run_err), (diag_rc, diag_s, diag_err) = [
            w.stopped(limit=60) for w in (run, diag)
        ]
    finally:
        stop_all(procs)
    assert (run_rc, diag_rc) == (130, 143), (run_err, diag_err)
    assert run_s < 30 and diag_s < 30, (run_s, diag_s)
    assert "run: interrupted after 0 of 100000 repeats" in run_err, run_err
    assert "interrupted by SIGTERM after 0 of 100000 repeats" in diag_err, diag_err
    for err in (run_err, diag_err):
        assert "Exception ignored" not in err and "Traceback" not in err, err
    for run_dir in (tiny_spec.parent / "runs").iterdir():
        assert json.loads((run_dir / "results.json").read_text())["complete"] is False


def test_one_sigterm_stops_a_fit_whose_chunks_of_epochs_take_minutes(
    tiny_spec: Path, tmp_path: Path
) -> None:
    # 2,000,000 epochs of 44 batches: a twentieth of them (the chunk between progress
    # reports) was one compiled call of minutes, which a signal waited for; the calls
    # are kept to about a second now.
    long = ["--set", "train.epochs=2000000", "--set", "train.batch_size=1"]
    fit = Watched("run", str(tiny_spec), *long)
    try:
        wait_for(fit.said("compiled and ran the first epoch"), fit.proc)
        time.sleep(2)  # into the calls that run many epochs
        fit.signal(signal.SIGTERM)
        rc, took, err = fit.stopped(limit=60)
    finally:
        stop_all([fit.proc])
    assert rc == 143, err
    assert took < 30, took
    assert "interrupted by SIGTERM after 0 of 2 repeats" in err, err


def backend_of(run_dir: Path) -> str:
    return str(yaml.safe_load((run_dir / "spec.yaml").read_text())["backend"])


def test_two_runs_at_once_get_their_own_run_dirs_and_stop_on_sigint_and_sigterm(
    tiny_spec: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    # Started together on the same spec (so in the same second, as a rule): one fits
    # 50 repeats one by one on TensorFlow (Ctrl-C keeps the finished ones), the other
    # all at once on JAX.
    many = ["--set", "evaluate.repeats=50", "--set", "train.epochs=5"]
    keras_run = start("run", str(tiny_spec), "--set", "backend=tensorflow", *many, tensorflow=True)
    fused_run = start("run", str(tiny_spec), "--set", "train.epochs=5000")
    procs = [keras_run, fused_run]
    try:
        # Both run directories exist (their results.json says what finished: nothing yet).
        wait_for(lambda: len(list(runs.glob("*/results.json"))) == 2, *procs)
        fused_run.send_signal(signal.SIGTERM)  # while it imports JAX or compiles, as it happens
        (keras_dir,) = [d for d in runs.iterdir() if backend_of(d) == "tensorflow"]
        wait_for((keras_dir / "history" / "repeat-01.json").exists, keras_run)
        keras_run.send_signal(signal.SIGINT)
        errs = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        stop_all(procs)
    assert [p.returncode for p in procs] == [130, 143], errs
    assert "run: interrupted after" in errs[0]
    assert "interrupted by SIGTERM after 0 of 2" in errs[1]
    dirs = [Path(re.findall(r"is in (\S+) \(marked incomplete\)", e)[0]) for e in errs]
    assert dirs[0] != dirs[1] and sorted(runs.iterdir()) == sorted(dirs)
    kept = [json.loads((d / "results.json").read_text()) for d in dirs]
    assert [r["complete"] for r in kept] == [False, False]
    assert 1 <= kept[0]["repeats"] < 50 and len(kept[0]["per_repeat"]) == kept[0]["repeats"]
    assert yaml.safe_load((dirs[0] / "spec.yaml").read_text())["evaluate"]["repeats"] == 50
    assert kept[1]["repeats"] == 0 and kept[1]["per_repeat"] == []
    for run_dir in dirs:
        assert not list(run_dir.rglob("*.tmp"))  # nothing half-written


def _study_states(db: Path) -> list[str]:
    """Trial states, read straight from Optuna's tables (quick enough to poll)."""
    import sqlite3

    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as con:
        return [state for (state,) in con.execute("SELECT state FROM trials ORDER BY number")]


def _workers_of(run_dir: Path) -> list[str]:
    """The live processes running `python -m lstmctl.tuning.worker` on this study."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "lstmctl.tuning.worker" in text and str(run_dir) in text:
            found.append(text)
    return found


def test_sigterm_stops_tune_and_its_workers_and_the_study_resumes(
    tmp_path: Path, tiny_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The workers find their programs in the compile cache the tune tests share (its
    # epochs are a loop's bound, not part of a program); trials long enough that some
    # are left to resume when the first one is done.
    lrs = [0.002, 0.01, 0.03, 0.05]
    path = tune_spec(
        tmp_path,
        tiny_csv,
        {"space": {"train.learning_rate": lrs}, "repeats": 2},
        train={"epochs": 400, "batch_size": 8},
    )
    p = start(
        "tune", str(path), "--workers", "2", cache=shared_temp(tmp_path_factory) / "jax-cache"
    )
    dbs: list[Path] = []
    polls: list[str] = []  # what the marker looked like, for a failure's message

    def a_trial_is_complete() -> bool:
        dbs[:] = list((tmp_path / "runs").glob("*/study.db"))
        try:
            states = _study_states(dbs[0]) if dbs else []
            polls.append(f"{time.monotonic():.2f} {states}")
            return "COMPLETE" in states
        except Exception as e:  # the database is still being created
            polls.append(f"{time.monotonic():.2f} {e!r}")
            return False

    try:
        wait_for(a_trial_is_complete, p)
        p.send_signal(signal.SIGTERM)  # the parent alone, as `kill PID` does
        _, err = p.communicate(timeout=120)
    finally:
        stop_all([p])
    run_dir = dbs[0].parent
    assert p.returncode == 143, err
    assert "interrupted by SIGTERM" in err and f"--resume {run_dir}" in err
    if Path("/proc/self/cmdline").exists():
        assert _workers_of(run_dir) == []  # the worker got the signal too, and stopped
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complete"] is False
    kept = {t["trial"] for t in results["trials"] if t["state"] == "complete"}
    assert kept and len(kept) < len(lrs), (polls[-30:], err)

    res = tune(resume=run_dir)
    assert res.complete, [(r.number, r.state, r.note, r.worker) for r in res.rows]
    complete = [r for r in res.rows if r.state == "complete"]
    assert sorted(r.params["train.learning_rate"] for r in complete) == lrs  # each once
    assert kept <= {r.number for r in complete}  # the finished trials were not run again


def digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_sigterm_while_an_in_place_update_is_saved_leaves_the_model_as_it_was(
    saved_plain: Path, tmp_path: Path
) -> None:
    model = tmp_path / "saved" / "m"
    shutil.copytree(saved_plain, model)
    before = digest(model)
    new = tmp_path / "new.csv"
    new.write_text("month,sales\n2004-01,199.5\n2004-02,204.0\n2004-03,260.0\n")
    # With the ONNX export (a child process that imports TensorFlow) the save takes seconds.
    p = start("update", "-m", str(model), "-d", str(new), "-e", "1", "--in-place")
    try:
        wait_for(lambda: bool(list(model.parent.glob(".m.partial-*"))), p)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
    finally:
        stop_all([p])
    assert p.returncode == 143, err
    assert "interrupted by SIGTERM; the model there is as it was" in err
    assert digest(model) == before
    open_model_dir(model)  # every hash checks out
    assert [q.name for q in model.parent.iterdir()] == ["m"]  # no partial directory beside it
