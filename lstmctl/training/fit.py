"""``fit_repeats``: the one seam between training and evaluation.

Evaluation and reporting only see :class:`FitResult` objects, so the trainer
behind this function can change without touching them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.spec import Spec
from lstmctl.training.backend import use_backend
from lstmctl.training.result import FitResult

# progress(repeat_index or -1 for all at once, epochs_done, total_epochs)
Progress = Callable[[int, int, int], None]


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

    The compiled trainer yields all repeats together at the end; the plain
    Keras path yields them one by one, so an interrupted run keeps those
    that finished. ``on_epochs`` sees the compiled trainer's learning curves
    between chunks of epochs (see ``fit_fused``); the plain Keras path ignores it.
    """
    use_backend(spec.backend)
    if trainer_name(spec) == "fused":
        from lstmctl.training.fused import fit_fused

        def all_at_once(done: int, total: int) -> None:
            if progress is not None:
                progress(-1, done, total)

        yield from fit_fused(spec, data, progress=all_at_once, on_epochs=on_epochs)
        return
    if spec.train.jobs > 1:
        from lstmctl.training.parallel import fit_in_workers

        yield from fit_in_workers(spec, data, spec.train.jobs, progress)
        return
    from lstmctl.training.keras_fit import fit_one

    for i in range(spec.evaluate.repeats):
        yield fit_one(spec, data, i, progress)


def fit_repeats(spec: Spec, data: Prepared, progress: Progress | None = None) -> list[FitResult]:
    """Fit ``spec.evaluate.repeats`` independent models; repeat i is seeded with seed + i."""
    return list(iter_repeats(spec, data, progress))
