"""``fit_repeats``: the one seam between training and evaluation.

Evaluation and reporting only see :class:`FitResult` objects, so the trainer
behind this function can change without touching them.

A repeat that fails does not stop the others: a loss that becomes NaN or
infinite, or running out of memory (the host's or the accelerator's), marks
that repeat's result with ``error`` and the run goes on (see
:func:`out_of_memory`; the compiled trainer first retries its replicas in
smaller groups).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.spec import Spec
from lstmctl.training.backend import use_backend
from lstmctl.training.result import FitResult

# progress(repeat_index or -1 for all at once, epochs_done, total_epochs)
Progress = Callable[[int, int, int], None]


# Exception classes that mean "out of memory", by name: no framework is imported to ask.
_OOM_CLASSES = {"MemoryError", "ResourceExhaustedError"}  # Python / NumPy; TensorFlow
_XLA_CLASSES = {"XlaRuntimeError", "JaxRuntimeError"}  # JAX: OOM when RESOURCE_EXHAUSTED


def out_of_memory(e: BaseException) -> str | None:
    """``"out of memory: ..."`` when ``e`` says memory ran out, else None.

    Recognised: ``MemoryError`` (Python, NumPy), TensorFlow's
    ``ResourceExhaustedError`` and JAX's runtime error whose message starts
    ``RESOURCE_EXHAUSTED`` (XLA could not allocate a buffer).
    """
    names = {c.__name__ for c in type(e).__mro__}
    text = str(e).strip()
    if not (names & _OOM_CLASSES or (names & _XLA_CLASSES and "RESOURCE_EXHAUSTED" in text[:40])):
        return None
    first = text.splitlines()[0] if text else type(e).__name__
    return f"out of memory: {first[:200]}"


def non_finite_loss(value: float, epoch: int) -> str:
    """The error of a repeat stopped because its loss became NaN or infinite at ``epoch``."""
    what = "NaN" if math.isnan(value) else "inf" if value > 0 else "-inf"
    return f"loss became {what} at epoch {epoch}"


def failed_fit(seed: int, error: str, seconds: float, data: Prepared) -> FitResult:
    """The result of a repeat that produced no model (``error`` says why)."""
    empty = np.zeros((0, *data.y_train.shape[1:]), np.float32)
    return FitResult(seed=seed, history={}, test_pred=empty, seconds=seconds, error=error)


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
    from lstmctl.training.keras_fit import fit_one_or_fail

    for i in range(spec.evaluate.repeats):
        yield fit_one_or_fail(spec, data, i, progress)


def fit_repeats(spec: Spec, data: Prepared, progress: Progress | None = None) -> list[FitResult]:
    """Fit ``spec.evaluate.repeats`` independent models; repeat i is seeded with seed + i."""
    return list(iter_repeats(spec, data, progress))
