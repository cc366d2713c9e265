"""Workers in separate processes: sharing one SQLite study, and a worker killed mid-trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_temp
from test_tune import tune_spec

from lstmctl.api import tune

# Grid points that differ only in the learning rate compile to the same program:
# each worker process compiles it once (and finds it in the shared cache after).
LRS = [0.002, 0.005, 0.01, 0.02]


@pytest.fixture(autouse=True)
def shared_compile_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    monkeypatch.setenv("LSTMCTL_JAX_CACHE", str(shared_temp(tmp_path_factory) / "jax-cache"))


def lstmctl(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lstmctl.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_two_worker_processes_share_one_sqlite_study_without_duplicates(
    tmp_path: Path, tiny_csv: Path
) -> None:
    path = tune_spec(tmp_path, tiny_csv, {"space": {"train.learning_rate": LRS}, "repeats": 2})
    p = lstmctl("tune", str(path), "--workers", "2", "-f", "json")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    data = json.loads(out)
    assert data["workers"] == 2 and data["complete"] is True
    trials = data["trials"]
    assert sorted(t["params"]["train.learning_rate"] for t in trials) == LRS
    assert all(t["state"] == "complete" for t in trials)
    # Both processes claimed trials from the one queue.
    assert len({t["worker"] for t in trials}) == 2, [t["worker"] for t in trials]


def _study_states(db: Path) -> list[str]:
    """Trial states; a RUNNING trial counts only once its worker has signed it."""
    import optuna

    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    return [
        "CLAIMING" if t.state.name == "RUNNING" and "worker" not in t.user_attrs else t.state.name
        for t in study.get_trials(deepcopy=False)
    ]


def test_a_killed_study_resumes_with_the_remaining_trials_only(
    tmp_path: Path, tiny_csv: Path
) -> None:
    path = tune_spec(
        tmp_path,
        tiny_csv,
        {"space": {"train.learning_rate": LRS}, "repeats": 2},
        # Long enough that a trial is still running when the kill comes, even
        # when its programs come from the compile cache.
        train={"epochs": 1000, "batch_size": 8},
    )
    p = lstmctl("tune", str(path))
    try:
        deadline = time.monotonic() + 240
        while True:
            assert p.poll() is None, p.communicate()[1]
            assert time.monotonic() < deadline, "no trial finished in time"
            dbs = list((tmp_path / "runs").glob("*/study.db"))
            if dbs:
                try:
                    states = _study_states(dbs[0])
                except Exception:  # the database is still being created
                    states = []
                if "COMPLETE" in states and "RUNNING" in states:
                    break
            time.sleep(0.05)
        os.kill(p.pid, signal.SIGKILL)  # no chance to clean up
        p.communicate()
    finally:
        if p.poll() is None:
            p.kill()
    run_dir = dbs[0].parent
    killed_done = _study_states(dbs[0]).count("COMPLETE")

    res = tune(resume=run_dir)
    assert res.complete
    complete = [r for r in res.rows if r.state == "complete"]
    assert sorted(r.params["train.learning_rate"] for r in complete) == LRS
    (lost,) = [r for r in res.rows if r.state == "failed"]
    assert "stopped" in lost.note and "run again as" in lost.note
    # Only what had not finished ran again: the trial numbers show it.
    assert len([r for r in complete if r.number > lost.number]) == 4 - killed_done


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_trial_whose_worker_went_silent_is_queued_again(tmp_path: Path) -> None:
    # On another machine a dead worker is only known by its missing heartbeats.
    import optuna

    from lstmctl.tuning import storage as st

    storage = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'hb.db'}",
        heartbeat_interval=1,
        grace_period=1,
        heartbeat_stale_trial_callback=st.requeue_lost,
    )
    study = optuna.create_study(storage=storage, study_name="s")
    study.enqueue_trial({"x": 3})
    trial = st.pop_waiting(study)
    assert trial.suggest_int("x", 0, 9) == 3
    storage.record_heartbeat(trial._trial_id)
    time.sleep(2.5)
    optuna.storages.fail_stale_trials(study)  # what every worker does before each trial
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].system_attrs["fixed_params"] == {"x": 3}
    assert st.superseded(trials) == {0} and st.counted(study) == 0
    again = st.pop_waiting(study)
    assert again.number == 1 and st.pop_waiting(study) is None


@pytest.mark.parametrize(
    "lost",
    [
        "(sqlite3.IntegrityError) UNIQUE constraint failed: alembic_version.version_num",
        "(sqlite3.OperationalError) database is locked",
        '(sqlite3.OperationalError) table "studies" already exists',
    ],
)
def test_a_worker_that_loses_the_race_to_create_the_study_tables_tries_again(
    lost: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    from lstmctl.tuning import storage

    calls: list[str] = []

    def rdb(url: str, **kw: Any) -> str:
        calls.append(url)
        if len(calls) == 1:
            raise SQLAlchemyError(lost)
        return "opened"

    monkeypatch.setattr(optuna.storages, "RDBStorage", rdb)
    monkeypatch.setattr(storage.time, "sleep", lambda s: None)
    assert storage.open_storage("sqlite:///study.db") == "opened"
    assert len(calls) == 2
