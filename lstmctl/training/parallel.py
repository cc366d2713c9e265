"""Repeats in worker processes for the plain Keras path (``train.jobs``).

The compiled trainer already fits every repeat at once; the plain Keras
path fits one model at a time and leaves cores idle, so with ``jobs: N`` it
hands the repeats to N worker processes, each with its own TensorFlow.
Results come back in repeat order, so tables and run directories look the
same as with one process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from lstmctl.data.prepared import Prepared
from lstmctl.errors import RunError
from lstmctl.spec import Spec
from lstmctl.training.result import FitResult, Progress


def _init_worker(backend: str) -> None:
    # Each worker picks the backend before Keras is imported there, and uses
    # one core's worth of threads so N workers share the machine fairly.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    from lstmctl.training.backend import use_backend

    use_backend(backend)


def _fit(spec: Spec, data: Prepared, repeat: int) -> FitResult:
    # Out of memory is caught in the worker: TensorFlow's errors do not cross processes.
    from lstmctl.training.keras_fit import fit_one_or_fail

    return fit_one_or_fail(spec, data, repeat)


def fit_in_workers(
    spec: Spec, data: Prepared, jobs: int, progress: Progress | None = None
) -> Iterator[FitResult]:
    """Fit ``spec.evaluate.repeats`` repeats in ``jobs`` processes, yielding them in order."""
    ctx = multiprocessing.get_context("spawn")  # never fork a process that holds TensorFlow
    epochs = spec.train.epochs
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(spec.backend,)
    ) as pool:
        futures: list[Future[FitResult]] = [
            pool.submit(_fit, spec, data, i) for i in range(spec.evaluate.repeats)
        ]
        try:
            for i, future in enumerate(futures):
                try:
                    result = future.result()
                except BrokenProcessPool:
                    # Killed from outside (the system's out-of-memory killer, as a rule):
                    # the pool cannot go on; the repeats before this one are kept.
                    raise RunError(
                        f"a worker process died before repeat {i + 1} finished (killed by "
                        "the system: out of memory?); try fewer --jobs",
                        where="train.jobs",
                    ) from None
                if progress is not None:
                    progress(i, epochs, epochs)
                yield result
        except BaseException as e:
            # Ctrl-C or a failure: drop the queued repeats, keep what finished.
            workers = dict(getattr(pool, "_processes", None) or {})  # gone after shutdown
            pool.shutdown(wait=False, cancel_futures=True)
            if isinstance(e, KeyboardInterrupt | GeneratorExit):
                # A signal sent to this process alone (kill PID) did not reach the
                # workers, and a caller that stops reading (closing this generator)
                # wants no more: stop their repeats too rather than wait for them.
                for proc in workers.values():
                    proc.terminate()
            raise
