"""Where a study lives: Optuna's RDB storage (SQLite by default, or any database URL).

Workers anywhere share a study through its storage. The pieces here keep
that safe:

* the worker that creates a study enqueues the whole grid before marking it
  ready; a worker that joins waits for the mark, then checks the study was
  made from the same spec (a fingerprint), so workers never mix experiments;
* a trial is claimed by moving it from WAITING to RUNNING, which the storage
  does for one worker only, so no grid point runs twice;
* a trial that was cut short (Ctrl-C, a killed worker, a lost heartbeat) is
  marked failed and its configuration queued again, so a resumed study
  redoes exactly the trials that did not finish.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from lstmctl.errors import UsageError

# Seconds between a running trial's heartbeats, and the silence after which
# another worker declares it lost and queues it again.
HEARTBEAT_S = 10
GRACE_S = 60
# How long a joining worker waits for the creator to finish queueing the grid.
READY_WAIT_S = 120.0

READY = "lstmctl_ready"
FINGERPRINT = "lstmctl_fingerprint"
STRATEGY = "lstmctl_strategy"
QUEUED = "lstmctl_queued"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def mask_url(url: str) -> str:
    """The URL with its password hidden (for reports and files)."""
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# What the loser of the race to create a new study database sees (see open_storage).
_RACING = ("already exists", "duplicate key", "unique constraint failed", "database is locked")


def open_storage(url: str) -> Any:
    """Optuna RDB storage with heartbeats (lost trials are queued again)."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several local workers write to one file: wait for the lock, do not fail.
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    try:
        for attempt in range(6):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # heartbeat options are "experimental"
                    return optuna.storages.RDBStorage(
                        url,
                        engine_kwargs=engine_kwargs,
                        heartbeat_interval=HEARTBEAT_S,
                        grace_period=GRACE_S,
                        heartbeat_stale_trial_callback=requeue_lost,
                    )
            except SQLAlchemyError as e:
                # Workers started together on an empty database race to create
                # Optuna's tables; the loser sees "already exists" (SQLite: a
                # failed UNIQUE constraint on the schema's version, or a lock held
                # past the timeout while the winner migrates): try again.
                text = str(e).lower()
                racing = any(m in text for m in _RACING)
                if not racing or attempt == 5:
                    raise
                time.sleep(0.2 + random.random() * (attempt + 1))
        raise AssertionError("unreachable")
    except ImportError:
        # Optuna's message for a missing driver (SQLAlchemy's postgresql:// uses psycopg 3).
        raise UsageError(
            f"no database driver is installed for {mask_url(url)} (for PostgreSQL: "
            "pip install 'lstmctl[postgres]', which brings psycopg)",
            where="--storage",
        ) from None
    except (SQLAlchemyError, ValueError, optuna.exceptions.StorageInternalError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(
            f"cannot open the study storage {mask_url(url)}: {reason}", where="--storage"
        ) from None


def fingerprint(spec: Any) -> str:
    """What makes two workers' trials comparable: the spec but its budget and paths.

    The data file counts by its contents, so workers on other machines with
    the same data in another folder may join.
    """
    raw = spec.dump()
    raw.pop("runs_dir", None)
    raw.pop("name", None)
    tune = dict(raw.get("tune") or {})
    for k in ("trials", "timeout", "pruning"):
        tune.pop(k, None)
    raw["tune"] = tune
    path = raw.get("data", {}).get("path")
    if path and Path(path).is_file():
        raw["data"]["path"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    text = json.dumps(raw, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def sampler_for(strategy: str, seed: int) -> Any:
    import optuna

    if strategy == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant_liar is "experimental"
            # constant_liar: parallel workers do not all sample the same promising point.
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    # random; and grid, whose points are queued with fixed values.
    return optuna.samplers.RandomSampler(seed=seed)


def open_study(
    storage: Any,
    name: str,
    spec: Any,
    grid: list[dict[str, Any]] | None,
    pruner: Any,
    seed: int,
) -> tuple[Any, bool]:
    """Create the study (queueing the grid) or join it; return it and whether it is new."""
    import optuna

    tune = spec.tune
    direction = tune.objective.direction
    mark = fingerprint(spec)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            direction=direction,
            sampler=sampler_for(tune.strategy, seed),
            pruner=pruner,
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=storage, study_name=name, pruner=pruner)
        _wait_ready(study, name)
        _check_same(study, name, mark, direction)
        # Each worker draws its own points: the seed moves with the study's progress
        # (a resumed study does not redraw its first points) and with the worker.
        salt = len(study.get_trials(deepcopy=False)) * 7919 + os.getpid() % 1000
        # Optuna hands the seed to NumPy, which takes 0 .. 2**32 - 1: wrap around.
        study.sampler = sampler_for(tune.strategy, (seed + salt) % 2**32)
        return study, False
    study.set_user_attr(FINGERPRINT, mark)
    study.set_user_attr(STRATEGY, tune.strategy)
    if grid is not None:
        for point in grid:
            study.enqueue_trial(point, user_attrs={"grid": True})
        study.set_user_attr(QUEUED, len(grid))
    study.set_user_attr(READY, True)
    return study, True


def _wait_ready(study: Any, name: str) -> None:
    deadline = time.monotonic() + READY_WAIT_S
    while not study.user_attrs.get(READY):
        if time.monotonic() > deadline:
            raise UsageError(
                f"study {name!r} exists but was never made ready (its creator stopped while "
                "queueing the grid?); use another --study name",
                where="--study",
            )
        time.sleep(0.5)


def _check_same(study: Any, name: str, mark: str, direction: str) -> None:
    if study.user_attrs.get(FINGERPRINT) not in (None, mark):
        raise UsageError(
            f"study {name!r} was created from a different spec (search space, data, model, "
            "training or objective differ); use another --study name",
            where="--study",
        )
    have = study.direction.name.lower()
    if have != direction:
        raise UsageError(
            f"study {name!r} is set to {have}, the spec's objective to {direction}",
            where="--study",
        )


# --------------------------------------------------------------------------- the queue


def _retrying(fn: Any, attempts: int = 20) -> Any:
    """Call ``fn`` again when SQLite reports a lock conflict between workers."""
    import optuna

    for i in range(attempts):
        try:
            return fn()
        except optuna.exceptions.StorageInternalError:
            if i == attempts - 1:
                raise
            time.sleep(0.05 + random.random() * 0.2 * (i + 1))
    return None


def pop_waiting(study: Any) -> Any:
    """Claim a queued trial (WAITING -> RUNNING, one worker wins), or None."""
    import optuna

    # Optuna's own queue pop (as `ask` uses it), without `ask`'s fallback of
    # creating a fresh trial: a grid worker must stop when the queue is empty.
    study._thread_local.cached_all_trials = None
    trial_id = _retrying(study._pop_waiting_trial_id)
    return None if trial_id is None else optuna.Trial(study, trial_id)


def ask(study: Any) -> Any:
    """A new trial (a queued one first), for random and TPE."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "heartbeat is supposed to be used with optimize"
        return _retrying(study.ask)


def superseded(trials: list[Any]) -> set[int]:
    """Numbers of failed trials whose configuration was queued again."""
    return {int(t.user_attrs["retry_of"]) for t in trials if "retry_of" in t.user_attrs}


def counted(study: Any) -> int:
    """Trials that count against the budget: started or finished, retried ones once."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    again = superseded(trials)
    return sum(1 for t in trials if t.state != TrialState.WAITING and t.number not in again)


def requeue(study: Any, frozen: Any) -> None:
    """Queue the configuration of a trial that did not finish, to be run again."""
    params = dict(frozen.system_attrs.get("fixed_params") or frozen.params)
    attrs = {"retry_of": frozen.number}
    if frozen.user_attrs.get("grid"):
        attrs["grid"] = True
    _retrying(lambda: study.enqueue_trial(params, user_attrs=attrs))


def requeue_lost(study: Any, frozen: Any) -> None:
    """Optuna's callback for a trial whose worker stopped sending heartbeats."""
    requeue(study, frozen)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reclaim_dead_local(study: Any) -> int:
    """Fail and requeue RUNNING trials of workers on this machine that no longer exist.

    Heartbeats find lost trials of any machine after ``GRACE_S``; a worker
    killed here is known dead at once, so a resume right after a kill goes on
    without waiting.
    """
    import optuna
    from optuna.trial import TrialState

    host = socket.gethostname()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(t.user_attrs.get("worker", ""))
        where, _, pid = owner.rpartition(":")
        if where != host or not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        storage = study._storage
        try:
            storage.set_trial_user_attr(t._trial_id, "error", f"worker {owner} stopped")
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except (optuna.exceptions.UpdateFinishedTrialError, optuna.exceptions.StorageInternalError):
            continue  # another worker reclaimed it first
        requeue(study, storage.get_trial(t._trial_id))
        n += 1
    return n
