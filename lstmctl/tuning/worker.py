"""A worker: claim a trial, run it, record it, until the study's budget is spent.

Any number of workers, in this process, in local child processes
(``--workers N``) or on other machines (``--storage URL --study NAME``), run
this same loop against one storage. ``python -m lstmctl.tuning.worker`` is
the child-process entry point ``--workers`` starts.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lstmctl import signals
from lstmctl.tuning import storage as st
from lstmctl.tuning.pruning import Pruned
from lstmctl.tuning.trial import TrialContext, describe_error, run_trial

log = logging.getLogger("lstmctl")

# Called after every trial this worker finishes, with its frozen trial.
OnTrial = Callable[[Any], None]


class _Heartbeat:
    """Tells the storage, every few seconds, that a trial's worker is alive."""

    def __init__(self, storage: Any, trial_id: int) -> None:
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
        if interval is None:
            return
        storage.record_heartbeat(trial_id)

        def beat() -> None:
            while not self.stop_event.wait(interval):
                try:
                    storage.record_heartbeat(trial_id)
                except Exception as e:  # a missed beat is not worth stopping the trial for
                    log.info("heartbeat of trial %d failed: %s", trial_id, e)

        self.thread = threading.Thread(target=beat, name="lstmctl-heartbeat", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


class Worker:
    """The trial loop of one worker."""

    def __init__(
        self,
        study: Any,
        ctx: TrialContext,
        deadline: float | None = None,
        on_trial: OnTrial | None = None,
    ) -> None:
        self.study = study
        self.ctx = ctx
        self.deadline = deadline
        self.on_trial = on_trial
        self.ran = 0

    @property
    def budget(self) -> int | None:
        return self.ctx.tune.trials

    def run(self) -> int:
        """Run trials until none is left, the budget is spent or the deadline passed."""
        import optuna

        reclaimed = st.reclaim_dead_local(self.study)
        if reclaimed:
            log.info("queued again %d trial(s) of workers that had stopped", reclaimed)
        while self.deadline is None or time.time() < self.deadline:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" since Optuna 2.9
                optuna.storages.fail_stale_trials(self.study)
            with signals.deferred():
                # Claimed and signed as one step: a signal between the two would leave a
                # running trial that no worker owns (found only when heartbeats stop).
                trial = self._next()
                if trial is not None:
                    trial.set_user_attr("worker", st.worker_id())
            if trial is None:
                break
            self._run_one(trial)
        return self.ran

    def _next(self) -> Any:
        trial = st.pop_waiting(self.study)
        if trial is not None or self.ctx.tune.strategy == "grid":
            return trial
        if self.budget is not None and st.counted(self.study) >= self.budget:
            return None
        return st.ask(self.study)

    def _run_one(self, trial: Any) -> None:
        from optuna.trial import TrialState

        study = self.study
        beat = _Heartbeat(study._storage, trial._trial_id)
        try:
            value = run_trial(trial, self.ctx, self._references)
            if not math.isfinite(value):
                raise ValueError(f"the objective is {value}")
            frozen = study.tell(trial, value)
        except Pruned:
            frozen = study.tell(trial, state=TrialState.PRUNED)
        except KeyboardInterrupt:
            # The signal may come inside study.tell, once the trial is recorded finished.
            if not study._storage.get_trial(trial._trial_id).state.is_finished():
                trial.set_user_attr("error", "interrupted")
                frozen = study.tell(trial, state=TrialState.FAIL)
                st.requeue(study, frozen)
            raise
        except Exception as e:
            # A failed trial (a bad combination, NaN losses, out of memory) is
            # recorded with its error; the study goes on.
            trial.set_user_attr("error", describe_error(e))
            log.info("trial %d failed", trial.number, exc_info=True)
            frozen = study.tell(trial, state=TrialState.FAIL)
        finally:
            beat.stop()
        self.ran += 1
        if self.on_trial is not None:
            self.on_trial(frozen)

    def _references(self, key: str) -> list[list[float]]:
        from optuna.trial import TrialState

        return [
            list(t.user_attrs["curve"])
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("data_key") == key and t.user_attrs.get("curve")
        ]


# --------------------------------------------------------------------------- child process


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process started by ``lstmctl tune --workers N``."""
    parser = argparse.ArgumentParser(prog="python -m lstmctl.tuning.worker")
    parser.add_argument("--spec", required=True, help="the tune run directory's spec.yaml")
    parser.add_argument("--study", required=True)
    parser.add_argument("--deadline", type=float, default=None)
    parser.add_argument("--label", default="worker")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    # The URL may hold a password: it comes in the environment, not on the command line.
    url = os.environ["LSTMCTL_TUNE_STORAGE"]

    from lstmctl.errors import LstmctlError
    from lstmctl.spec import load_spec
    from lstmctl.spec.tune_space import parse_space
    from lstmctl.tuning.compile_cache import enable_compile_cache
    from lstmctl.tuning.report import trial_line

    try:
        # SIGINT and SIGTERM as in the lstmctl command; the parent passes its signal on.
        with signals.handled(announce=False):
            spec = load_spec(args.spec)
            assert spec.tune is not None
            enable_compile_cache(Path(args.spec).parent, spec.backend)
            ctx = TrialContext(spec, parse_space(spec.tune.space))
            storage = st.open_storage(url)
            from lstmctl.tuning.pruning import study_pruner

            pruner = study_pruner(spec.tune.pruning.repeats)
            seed = spec.tune.seed if spec.tune.seed is not None else spec.seed
            study, _ = st.open_study(storage, args.study, spec, None, pruner, seed)

            def report(frozen: Any) -> None:
                if args.progress:
                    print(f"{args.label}: {trial_line(frozen, ctx)}", file=sys.stderr)

            Worker(study, ctx, args.deadline, report).run()
    except KeyboardInterrupt as e:
        return signals.exit_code(e)
    except LstmctlError as e:
        print(f"lstmctl: error: {args.label}: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
