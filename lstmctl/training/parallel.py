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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from lstmctl.data.prepared import Prepared
from lstmctl.spec import Spec
from lstmctl.training.result import FitResult

Progress = Callable[[int, int, int], None]


def _init_worker(backend: str) -> None:
    # Each worker picks the backend before Keras is imported there, and uses
    # one core's worth of threads so N workers share the machine fairly.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    from lstmctl.training.backend import use_backend

    use_backend(backend)


def _fit(spec: Spec, data: Prepared, repeat: int) -> FitResult:
    from lstmctl.training.keras_fit import fit_one

    return fit_one(spec, data, repeat)


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
                result = future.result()
                if progress is not None:
                    progress(i, epochs, epochs)
                yield result
        except BaseException:
            # Ctrl-C or a failure: drop the queued repeats, keep what finished.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
