"""``fit_repeats``: the one seam between training and evaluation.

Evaluation and reporting only see :class:`FitResult` objects, so the trainer
behind this function can change without touching them.

A repeat that fails does not stop the others: a loss that becomes NaN or
infinite, or running out of memory (the host's or the accelerator's), marks
that repeat's result with ``error`` and the run goes on (see
:func:`lstmctl.memory.out_of_memory`; the compiled trainer first retries its replicas in
smaller groups).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from lstmctl import signals
from lstmctl.data.prepared import Prepared
from lstmctl.spec import Spec
from lstmctl.training.backend import use_backend
from lstmctl.training.footprint import check_footprint
from lstmctl.training.result import FitResult, Progress


def trainer_name(spec: Spec) -> str:
    """Which trainer a spec uses: ``fused`` (JAX, all repeats at once) or ``keras``."""
    return "fused" if spec.backend == "auto" else "keras"


def iter_repeats(
    spec: Spec,
    data: Prepared,
    progress: Progress | None = None,
    on_epochs: Callable[[int, dict[str, np.ndarray]], None] | None = None,
) -> Iterator[FitResult]:
    """Fit the spec's repeats, yielding each result as soon as it exists.

    The compiled trainer yields its repeats together at the end of each block
    of replicas (all of them at once, up to ``fused.BLOCK``); the plain Keras
    path yields them one by one, so an interrupted run keeps those that
    finished. ``on_epochs`` sees the compiled trainer's learning curves
    between chunks of epochs (see ``fit_fused``); the plain Keras path ignores it.

    A signal whose exception was dropped (see :mod:`lstmctl.signals`) is
    raised here at the latest, before the next result: the caller's work on
    each result is one more step of the loop.
    """
    for fit in _fits(spec, data, progress, on_epochs):
        signals.check()
        yield fit
    signals.check()


def _fits(
    spec: Spec,
    data: Prepared,
    progress: Progress | None,
    on_epochs: Callable[[int, dict[str, np.ndarray]], None] | None,
) -> Iterator[FitResult]:
    check_footprint(spec, data)  # before anything is allocated: XLA may abort, not raise
    use_backend(spec.backend)
    if trainer_name(spec) == "fused":
        from lstmctl.training.fused import iter_fused

        def per_block(repeat: int, done: int, total: int) -> None:
            if progress is not None:
                progress(repeat, done, total)

        for block in iter_fused(spec, data, progress=per_block, on_epochs=on_epochs):
            yield from block
        return
    if spec.train.jobs > 1:
        from lstmctl.training.parallel import fit_in_workers

        yield from fit_in_workers(spec, data, spec.train.jobs, progress)
        return
    from lstmctl.training.keras_fit import fit_one_or_fail

    for i in range(spec.evaluate.repeats):
        yield fit_one_or_fail(spec, data, i, progress)


def fit_repeats(spec: Spec, data: Prepared, progress: Progress | None = None) -> list[FitResult]:
    """Fit ``spec.evaluate.repeats`` independent models; repeat i is seeded with seed + i."""
    return list(iter_repeats(spec, data, progress))
