"""``tune``: open (or resume, or join) a study, run its workers, report its trials.

A tune run directory, ``runs/NAME-tune-TIMESTAMP/``, holds the spec
(``spec.yaml``), where the study lives (``study.json``; by default the SQLite
database ``study.db`` beside it) and, after every invocation, the report:
``results.json``, ``trials.csv``, ``best.yaml`` (a spec ``lstmctl run``
accepts) and ``repeats.png`` (the repeats' scores per configuration).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lstmctl.errors import Interrupted, RunError, UsageError
from lstmctl.signals import interrupted as describe_signal
from lstmctl.signals import signum_of
from lstmctl.spec import Spec, load_spec
from lstmctl.spec.tune_space import grid_points, parse_space
from lstmctl.tuning import storage as st
from lstmctl.tuning.choices import check_choices
from lstmctl.tuning.compile_cache import enable_compile_cache
from lstmctl.tuning.results import TuneResult, ranked, study_span, trial_rows
from lstmctl.tuning.trial import TrialContext

log = logging.getLogger("lstmctl")

LOCAL_DB = "study.db"
# Seconds a child worker gets to finish cleanly after the study was interrupted.
CHILD_GRACE_S = 60.0


def read_run_dir(run_dir: Path, overrides: list[str]) -> tuple[Spec, dict[str, Any]]:
    """The spec and study location saved in a tune run directory (for ``--resume``)."""
    meta_path, spec_path = run_dir / "study.json", run_dir / "spec.yaml"
    if not run_dir.is_dir() or not meta_path.is_file() or not spec_path.is_file():
        raise UsageError(
            "expected a tune run directory (with study.json and spec.yaml), found "
            + ("no such folder" if not run_dir.is_dir() else "something else"),
            where=str(run_dir),
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read study.json: {e}", where=str(meta_path)) from None
    spec = load_spec(spec_path, overrides)
    if spec.tune is None:
        raise UsageError("the saved spec has no tune section", where=str(spec_path))
    return spec, meta


def run_study(
    spec: Spec,
    *,
    resume: Path | None = None,
    meta: dict[str, Any] | None = None,
    storage: str | None = None,
    study: str | None = None,
    workers: int = 1,
    runs_dir: str | Path | None = None,
    plot: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> TuneResult:
    """Run (or resume, or join) the study of ``spec.tune``; return its ranked trials."""
    from lstmctl.rundir import write_atomic
    from lstmctl.signals import sigterm_interrupts
    from lstmctl.tuning.pruning import study_pruner
    from lstmctl.tuning.worker import Worker

    start = time.perf_counter()
    spec, ctx = _checked(spec, workers)
    tune = spec.tune
    assert tune is not None  # _checked said so
    dims = ctx.dims
    seed = tune.seed if tune.seed is not None else spec.seed
    grid = None
    if tune.strategy == "grid":
        grid = grid_points(dims, seed)[: tune.trials or None]
    pruner = study_pruner(tune.pruning.repeats)
    opener = _Opener(spec, grid, pruner, seed)
    if resume is not None:
        run_dir = resume
        name, url, study_obj, created = opener.resume(resume, meta or {}, storage, study)
    else:
        run_dir, name, url, study_obj, created = opener.create(storage, study, runs_dir)
    # The effective spec (with any --set of this invocation): child workers read it.
    write_atomic(run_dir / "spec.yaml", spec.to_yaml())
    log.info(
        "%s study %s in %s (%s, %d worker(s))",
        "created" if created else "joined",
        name,
        st.mask_url(url),
        tune.strategy,
        workers,
    )
    enable_compile_cache(run_dir, spec.backend)
    deadline = None if tune.timeout is None else time.time() + tune.timeout

    def on_trial(frozen: Any) -> None:
        from lstmctl.tuning.report import trial_line

        line = trial_line(frozen, ctx)
        if progress is not None:
            progress(line)
        else:
            log.info("%s", line)

    notes: list[str] = []
    children = _start_children(run_dir, name, url, workers - 1, deadline, progress is not None)
    signum = None  # set when a signal (Ctrl-C, kill) stopped the study
    try:
        # ``kill PID`` stops the study as cleanly as Ctrl-C (its trial is queued again).
        with sigterm_interrupts():
            Worker(study_obj, ctx, deadline, on_trial).run()
            notes += _wait_children(children)
    except KeyboardInterrupt as e:
        signum = signum_of(e)
        _stop_children(children, signum)
    interrupted = signum is not None

    result = _result(spec, study_obj, dims, name, url, run_dir, start, workers, interrupted)
    result.notes = notes
    _write_report(result, plot)
    _raise_if_stopped_or_failed(result, run_dir, signum)
    return result


def _checked(spec: Spec, workers: int) -> tuple[Spec, TrialContext]:
    """The spec as its trials derive from it, and their context; UsageError (exit 2)
    for what no study should start with."""
    tune = spec.tune
    if tune is None:
        raise UsageError(
            "the spec has no tune section: add tune.space (see README: Tuning)", where="tune"
        )
    if workers < 1:
        raise UsageError(f"expected at least 1 worker, found {workers}", where="--workers")
    ctx = TrialContext(spec, parse_space(tune.space))
    # A bad data file is the user's to fix before any study exists (exit 2), not
    # a failure of every trial; and trials that keep the data settings reuse it.
    # The trials derive from the spec as it runs (a problem's task settled).
    if spec.evaluate.backtest is not None:  # every trial a backtest: its folds must fit
        spec = ctx.spec = ctx.backtest(spec)[0]
    else:
        spec = ctx.spec = ctx.prepared(spec)[0]
    check_choices(spec, ctx)  # so is a choice no trial could run with (as validate finds)
    return spec, ctx


class _Opener:
    """Opens the study a run creates, resumes or joins (and the run directory it is kept in)."""

    def __init__(self, spec: Spec, grid: Any, pruner: Any, seed: int) -> None:
        self.spec, self.grid, self.pruner, self.seed = spec, grid, pruner, seed

    def resume(
        self, run_dir: Path, meta: dict[str, Any], storage: str | None, study: str | None
    ) -> tuple[str, str, Any, bool]:
        """The study of an earlier run directory: its name, storage URL, study, created."""
        name = study or str(meta.get("study") or self.spec.name)
        url = _resume_url(run_dir, meta, storage)
        study_obj, created = self._open(st.open_storage(url), name)
        return name, url, study_obj, created

    def create(
        self, storage: str | None, study: str | None, runs_dir: str | Path | None
    ) -> tuple[Path, str, str, Any, bool]:
        """A new run directory and the study in it (or joined in a shared database)."""
        from lstmctl.rundir import create_run_dir, write_atomic

        spec = self.spec
        name = study or spec.name
        # A shared database is opened first: if it cannot be, no run directory is left.
        shared = None if storage is None else st.open_storage(storage)
        run_dir = create_run_dir(runs_dir or spec.runs_dir, f"{spec.name}-tune")
        # Trials keep their repeats' records in the study, not in history/.
        (run_dir / "history").rmdir()
        url = storage or st.sqlite_url(run_dir / LOCAL_DB)
        try:
            storage_obj = shared if shared is not None else st.open_storage(url)
            study_obj, created = self._open(storage_obj, name)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing of this study is in it
            raise
        where = LOCAL_DB if storage is None else st.mask_url(url)
        write_atomic(run_dir / "study.json", json.dumps({"study": name, "storage": where}) + "\n")
        return run_dir, name, url, study_obj, created

    def _open(self, storage_obj: Any, name: str) -> tuple[Any, bool]:
        return st.open_study(storage_obj, name, self.spec, self.grid, self.pruner, self.seed)


def _raise_if_stopped_or_failed(result: TuneResult, run_dir: Path, signum: int | None) -> None:
    """Interrupted when a signal stopped the study; RunError when every trial failed."""
    if signum is not None:
        done = sum(1 for r in result.rows if r.finished)
        raise Interrupted(
            f"{describe_signal(signum)}; the {done} finished trials are kept in {run_dir} "
            f"(marked incomplete) — continue with lstmctl tune --resume {run_dir}",
            where="tune",
            signum=signum,
        )
    failed = [r for r in result.rows if r.state == "failed"]
    if failed and all(r.state in ("failed", "running") for r in result.rows):
        raise RunError(f"every trial failed (first: {failed[0].note}); see {run_dir}", where="tune")


def _resume_url(run_dir: Path, meta: dict[str, Any], storage: str | None) -> str:
    saved = str(meta.get("storage") or LOCAL_DB)
    if saved == LOCAL_DB:
        if storage is not None:
            raise UsageError(
                f"this study lives in {run_dir / LOCAL_DB}; drop --storage to resume it",
                where="--storage",
            )
        return st.sqlite_url(run_dir / LOCAL_DB)
    if storage is not None:
        return storage
    if "***" in saved:
        raise UsageError(
            f"the study lives in {saved}; pass --storage with its full URL to resume it",
            where="--resume",
        )
    return saved


def _result(
    spec: Spec,
    study: Any,
    dims: list[Any],
    name: str,
    url: str,
    run_dir: Path,
    start: float,
    workers: int,
    interrupted: bool,
) -> TuneResult:
    from optuna.trial import TrialState

    tune = spec.tune
    assert tune is not None
    rows = ranked(
        trial_rows(study, dims, tune.objective.metric),
        tune.objective.summary,
        tune.objective.direction == "maximize",
    )
    trials = study.get_trials(deepcopy=False)
    pending = any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in trials)
    short = tune.strategy != "grid" and tune.trials is not None and st.counted(study) < tune.trials
    return TuneResult(
        spec=spec,
        study_name=name,
        storage=st.mask_url(url),
        rows=rows,
        run_dir=run_dir,
        seconds=time.perf_counter() - start,
        study_seconds=study_span(study),
        complete=not (interrupted or pending or short),
        workers=workers,
    )


def _write_report(result: TuneResult, plot: Path | None) -> None:
    from lstmctl.rundir import csv_text, write_atomic, write_json
    from lstmctl.targets import write_file_atomic
    from lstmctl.tuning.plot import plot_repeats

    run_dir = result.run_dir
    write_json(run_dir / "results.json", result.to_json())
    write_atomic(run_dir / "trials.csv", csv_text(result.csv_rows()))
    best = result.best_yaml()
    if best:
        write_atomic(run_dir / "best.yaml", best)
    png = plot_repeats(result, run_dir / "repeats.png")
    if plot is not None:
        if png is None:
            result.notes.append(f"no trial has scores yet: {plot} was not written")
            return
        # --plot was checked before the study; a fault now (disk full) costs the
        # copy, not the trials table: the plot is in the run directory anyway.
        try:
            write_file_atomic(plot, lambda tmp: shutil.copyfile(png, tmp))
        except OSError as e:
            result.notes.append(f"{plot}: not written ({e.strerror or e}); the plot is {png}")
            return
        result.plot = plot


# --------------------------------------------------------------------------- child workers


def _start_children(
    run_dir: Path, name: str, url: str, n: int, deadline: float | None, progress: bool
) -> list[subprocess.Popen[bytes]]:
    if n <= 0:
        return []
    env = dict(os.environ, LSTMCTL_TUNE_STORAGE=url)
    procs = []
    for k in range(1, n + 1):
        cmd = [
            sys.executable,
            "-m",
            "lstmctl.tuning.worker",
            "--spec",
            str(run_dir / "spec.yaml"),
            "--study",
            name,
            "--label",
            f"worker {k}",
        ]
        if deadline is not None:
            cmd += ["--deadline", repr(deadline)]
        if progress:
            cmd.append("--progress")
        # stdout is for results: a worker's goes nowhere; its errors go to stderr.
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL))
    return procs


def _wait_children(procs: list[subprocess.Popen[bytes]]) -> list[str]:
    notes = []
    for k, p in enumerate(procs, start=1):
        rc = p.wait()
        if rc not in (0, 130, 143):  # 130, 143: stopped by a signal, its trial queued again
            notes.append(f"worker {k} exited with status {rc} (its error is above)")
    return notes


def _stop_children(procs: list[subprocess.Popen[bytes]], signum: int) -> None:
    """Stop the workers as this process was stopped; they queue their running trials again.

    SIGTERM (``kill PID``) reached this process alone: it is passed on at once.
    Ctrl-C on a terminal reached every worker already; those still running
    after a moment get SIGINT (``kill -INT PID`` reached only this one).
    """
    import signal

    if signum != signal.SIGINT:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)
    deadline = time.monotonic() + 2.0
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=CHILD_GRACE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
