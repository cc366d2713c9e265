"""The compiled replica trainer: R repeats of one configuration as ONE JAX program.

Each repeat is a *replica*: its Keras variables (built under its own seed) are
stacked on a leading axis and mapped with ``jax.vmap``; batches and epochs run
by ``jax.lax.scan`` inside ``jax.jit``. The model is an ordinary Keras model
from the registry, used through Keras' stateless API
(``model.stateless_call`` and ``optimizer.stateless_apply``), so any
architecture the registry builds trains here without special cases. The only
convention relied on is the explicit-state one of stateful models: inputs
beyond the first are initial states, outputs beyond the first are the final
states, in the same order.

Per replica, and independent of the others:

* initial weights as a plain Keras build under ``set_random_seed(seed + i)``;
  its own shuffling order per epoch and its own dropout RNG (Keras keeps the
  seed state in non-trainable variables, which are stacked like the weights);
* early stopping and NaN handling by masks: a stopped replica's updates are
  dropped from then on, the others go on;
* the batches index the shared data with the replica's permutation inside the
  program, so the data is never copied per replica.

The epochs run in chunks (a twentieth of them); ``progress`` is called between
chunks and the run ends early when every replica has stopped.

A signal (Ctrl-C, ``kill``) is acted on between compiled calls and between
replica builds (see :func:`lstmctl.signals.check`), so no call runs for long:

* one compiled call runs as many epochs as take about ``CALL_SECONDS``
  (measured as it goes; the first call, which compiles, runs one), never
  more than a chunk; the epochs, and so the results, are the same however
  they are split into calls;
* more than ``BLOCK`` replicas are fitted block after block, each block as
  one program (seeded as the whole would have been), and each block's
  results are yielded as it finishes, so an interrupted run keeps them.

The parts: :mod:`~lstmctl.training.replicas` builds and stacks the replicas,
:mod:`~lstmctl.training.program` is the compiled program (and the state it
carries), :mod:`~lstmctl.training.network` calls the model and replays a
stateful model's history; this module runs the program and collects results.
:mod:`~lstmctl.training.folds_fit` runs the same pieces for a backtest's
folds x repeats, each replica on its own range of the windows.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from lstmctl import signals
from lstmctl.data.prepared import Prepared
from lstmctl.errors import RunError
from lstmctl.memory import out_of_memory
from lstmctl.models.registry import Shapes
from lstmctl.spec import Spec
from lstmctl.spec.derive import repeats_part
from lstmctl.training import lookup
from lstmctl.training.batches import ahead_batches
from lstmctl.training.checks import check_windows
from lstmctl.training.network import Network, replay
from lstmctl.training.program import (
    EVAL_BATCH,
    Layout,
    Program,
    device_arrays,
    initial_state,
    layout,
    tree_where,
)
from lstmctl.training.replicas import Replicas
from lstmctl.training.replicas import build_replicas as _build_replicas
from lstmctl.training.replicas import set_random_seed as _set_random_seed  # noqa: F401 (tests)
from lstmctl.training.result import FitResult, Progress, failed_fit, non_finite_loss

log = logging.getLogger("lstmctl")

# A signal waits for the compiled call under way: the epochs per call are
# chosen so that one takes about this long (at least one epoch).
CALL_SECONDS = 1.0
# Replicas in one program; more are fitted block after block.
BLOCK = 1024

OnEpochs = Callable[[int, dict[str, np.ndarray]], None]


def fit_fused(
    spec: Spec,
    data: Prepared,
    progress: Callable[[int, int], None] | None = None,
    on_epochs: OnEpochs | None = None,
    initial_weights: list[list[np.ndarray]] | None = None,
) -> list[FitResult]:
    """Fit the ``spec.evaluate.repeats`` repeats of ``spec`` as replicas of one program.

    ``initial_weights[i]``, when given, are replica i's starting weights (Keras
    ``get_weights`` order) instead of a fresh initialization: training then
    continues a fitted model (``update``'s fine-tuning) with a fresh optimizer.

    ``on_epochs(epochs_done, curves)``, when given, is called between compiled
    chunks with the learning curves so far (``loss`` and ``val_loss``, each
    ``(epochs_done, R)``, NaN where a replica had stopped); it may raise to
    abandon the fit (tuning's epoch pruning does).

    Replica ``i`` uses seed ``spec.seed + i``. Returns one :class:`FitResult`
    per replica, in seed order. A replica whose loss became NaN or infinite is
    returned with ``error`` set and an empty ``test_pred``.

    Out of memory (see ``lstmctl.memory.out_of_memory``), the replicas are fitted
    again in two halves, each half split again while it does not fit; a
    replica that does not fit alone is returned with ``error`` "out of memory:
    ...". The halves are separate programs, seeded as the whole would have
    been (replica ``i`` still uses ``spec.seed + i``, as tuning's groups of
    repeats do); ``progress`` and ``on_epochs`` then see each half in turn,
    as they see each block of more than ``BLOCK`` replicas.
    """

    def per_block(repeat: int, done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)

    blocks = iter_fused(spec, data, per_block, on_epochs, initial_weights)
    return [fit for block in blocks for fit in block]


def iter_fused(
    spec: Spec,
    data: Prepared,
    progress: Progress | None = None,
    on_epochs: OnEpochs | None = None,
    initial_weights: list[list[np.ndarray]] | None = None,
) -> Iterator[list[FitResult]]:
    """:func:`fit_fused`, yielding the results of each block of ``BLOCK`` replicas as it ends."""
    n_rep = spec.evaluate.repeats
    n_blocks = math.ceil(n_rep / BLOCK)
    for b in range(n_blocks):
        signals.check()
        first, count = b * BLOCK, min(BLOCK, n_rep - b * BLOCK)
        last = -1 if n_blocks == 1 else first + count - 1

        def block_progress(done: int, total: int, last: int = last) -> None:
            if progress is not None:
                progress(last, done, total)

        part = _part(spec, first, count) if n_blocks > 1 else spec
        init = None if initial_weights is None else initial_weights[first : first + count]
        yield _fit_or_split(part, data, block_progress, on_epochs, init)


def _part(spec: Spec, first: int, count: int) -> Spec:
    """Replicas ``first`` .. ``first + count - 1`` of ``spec``, seeded as in the whole."""
    return repeats_part(spec, first, count)


def _fit_or_split(
    spec: Spec,
    data: Prepared,
    progress: Callable[[int, int], None] | None,
    on_epochs: OnEpochs | None,
    initial_weights: list[list[np.ndarray]] | None,
) -> list[FitResult]:
    """The replicas as one program; out of memory, in halves (see :func:`fit_fused`)."""
    start = time.perf_counter()
    try:
        return _fit_group(spec, data, progress, on_epochs, initial_weights)
    except Exception as e:  # MemoryError, or XLA's RESOURCE_EXHAUSTED runtime error
        error = out_of_memory(e)
        if error is None:
            raise
    gc.collect()  # the failed program's buffers go before the halves allocate theirs
    n_rep = spec.evaluate.repeats
    if n_rep == 1:
        log.info("the replica of seed %d failed, the others go on: %s", spec.seed, error)
        return [failed_fit(spec.seed, error, time.perf_counter() - start, data)]
    half = n_rep // 2
    log.info("%s with %d replicas at once; trying %d, then %d", error, n_rep, half, n_rep - half)
    results: list[FitResult] = []
    for first, count in ((0, half), (half, n_rep - half)):
        init = None if initial_weights is None else initial_weights[first : first + count]
        results += _fit_or_split(_part(spec, first, count), data, progress, on_epochs, init)
    return results


def _fit_group(
    spec: Spec,
    data: Prepared,
    progress: Callable[[int, int], None] | None,
    on_epochs: OnEpochs | None,
    initial_weights: list[list[np.ndarray]] | None,
) -> list[FitResult]:
    """:func:`fit_fused`'s replicas as one compiled program (whatever memory it needs)."""
    start = time.perf_counter()
    check_backend()
    check_windows(spec, data)
    lay, X_fit, y_fit = layout(spec, data)
    optimizer = lookup.optimizer(spec.train.optimizer, spec.train.learning_rate)
    loss_fn = lookup.unreduced(lookup.loss(spec.train.loss))
    n_rep = lay.n_rep
    log.info("building %d replicas (seeds %d to %d)", n_rep, spec.seed, spec.seed + n_rep - 1)
    reps = _build_replicas(spec, model_shapes(data, lay), n_rep, initial_weights)
    net = Network(reps.model)
    if lay.stateful and net.n_states == 0:
        raise RunError(
            f"architecture {spec.model.arch!r} takes no explicit states, so the fused "
            "trainer cannot carry a stateful model's state; use backend: tensorflow",
            where="model.arch",
        )
    state = initial_state(reps, optimizer, spec.seed, lay)
    arrays = device_arrays(lay, X_fit, y_fit, data)
    program = Program(net, optimizer, loss_fn, lay)
    state, loss_hist, val_hist = run_epochs(program, state, arrays, progress, on_epochs)
    tr, nt = final_weights(state, lay)
    preds = forecast_ahead(net, tr, nt, data, lay)
    seconds = (time.perf_counter() - start) / n_rep
    return _results(spec, lay, reps, state, tr, nt, preds, (loss_hist, val_hist), seconds)


def check_backend() -> None:
    import keras

    if keras.backend.backend() != "jax":
        raise RunError(
            f"the fused trainer needs Keras on JAX, found {keras.backend.backend()}; "
            "use backend: auto (or set KERAS_BACKEND=jax before importing keras)",
            where="backend",
        )


def model_shapes(data: Prepared, lay: Layout) -> Shapes:
    return Shapes(
        lookback=int(data.X_train.shape[1]),
        n_inputs=int(data.X_train.shape[2]),
        horizon=int(data.y_train.shape[1]),
        n_targets=int(data.y_train.shape[2]),
        batch_size=lay.batch if lay.stateful else None,
        mask_value=data.mask_value,
        state_mode="explicit" if lay.stateful else "native",
        **data.shape_hints(),
    )


def run_epochs(
    program: Program,
    state: dict[str, Any],
    arrays: dict[str, Any],
    progress: Callable[[int, int], None] | None,
    on_epochs: OnEpochs | None,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Every epoch, chunk by chunk, call by call: the final state and the curves.

    The curves are ``(epochs, R)``, NaN where a replica had stopped (and for all
    of a chunk's epochs left once every replica has stopped).
    """
    import jax.numpy as jnp

    lay = program.lay
    epochs, n_rep = lay.epochs, lay.n_rep
    run_span = program.compiled()
    losses: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    done, per_call, compiling = 0, 1, True
    while done < epochs:
        end = min(epochs, done + lay.chunk)
        any_active = True
        while done < end and any_active:
            stop = min(end, done + per_call)
            began = time.perf_counter()
            state, loss_c, val_c, ran = run_span(state, jnp.int32(done), jnp.int32(stop), arrays)
            losses.append(np.asarray(loss_c)[: stop - done])
            vals.append(np.asarray(val_c)[: stop - done])
            any_active = bool(np.any(np.asarray(state["active"])))
            seconds = time.perf_counter() - began
            per_call = _epochs_per_call(int(ran), seconds, lay.span)
            if compiling:
                log.info("compiled and ran the first epoch in %.1fs; training", seconds)
                compiling = False
            done = stop
            signals.check()  # a signal waited for the call: it stops the fit here
        if done < end:
            # Every replica has stopped: the chunk's remaining epochs are NaN for all.
            rest = np.full((end - done, n_rep), np.nan, np.float32)
            losses.append(rest)
            vals.append(rest)
            done = end
        if progress is not None:
            progress(done if any_active else epochs, epochs)
        if on_epochs is not None:
            on_epochs(done, {"loss": np.concatenate(losses), "val_loss": np.concatenate(vals)})
        if not any_active:
            break
    return state, np.concatenate(losses), np.concatenate(vals)


def final_weights(state: dict[str, Any], lay: Layout) -> tuple[Any, Any]:
    """Each replica's last weights, or its best ones (``restore_best``) unless it failed."""
    import jax
    import jax.numpy as jnp

    final_tr, final_nt = state["tr"], state["nt"]
    if lay.restore_best:
        keep = jnp.asarray(np.asarray(state["failed_at"]) == 0)
        final_tr = jax.vmap(tree_where)(keep, state["best_tr"], final_tr)
        final_nt = jax.vmap(tree_where)(keep, state["best_nt"], final_nt)
    return final_tr, final_nt


def forecast_ahead(net: Network, tr: Any, nt: Any, data: Prepared, lay: Layout) -> np.ndarray:
    """Every replica's forecasts of the validation then the test windows:
    ``(R, n_val + n_test, horizon, n_targets)``.

    A stateful model first replays the training windows, then walks forward
    through the validation windows into the test windows. Windows by index are
    gathered batch by batch from their rows, as in training.
    """
    import jax
    import jax.numpy as jnp

    horizon, n_targets = int(data.y_train.shape[1]), int(data.y_train.shape[2])
    n_ahead = len(data.X_val) + len(data.X_test)
    if n_ahead == 0:
        return np.zeros((lay.n_rep, 0, horizon, n_targets), np.float32)
    if lay.stateful:
        ahead = np.concatenate([data.X_val, data.X_test]) if len(data.X_val) else data.X_test

        def walk(tr: Any, nt: Any, hist: Any, test: Any) -> Any:
            states, _ = replay(net, tr, nt, hist)
            return replay(net, tr, nt, test, states)[1]

        preds = jax.jit(jax.vmap(walk, in_axes=(0, 0, None, None)))(
            tr, nt, jnp.asarray(data.X_train, jnp.float32), jnp.asarray(ahead, jnp.float32)
        )
        return np.asarray(preds)[:, :n_ahead]
    Xp, windows = ahead_batches(data.X_val, data.X_test, min(n_ahead, EVAL_BATCH))

    def predict(tr: Any, nt: Any, xs: Any) -> Any:
        def step(_: Any, x: Any) -> tuple:
            return None, net.call(tr, nt, windows(x), [], False)[0]

        return jax.lax.scan(step, None, xs)[1].reshape(-1, horizon, n_targets)

    preds = jax.jit(jax.vmap(predict, in_axes=(0, 0, None)))(tr, nt, Xp)
    return np.asarray(preds)[:, :n_ahead]


def _results(
    spec: Spec,
    lay: Layout,
    reps: Replicas,
    state: dict[str, Any],
    final_tr: Any,
    final_nt: Any,
    preds: np.ndarray,
    curves: tuple[np.ndarray, np.ndarray],
    seconds: float,
) -> list[FitResult]:
    """One :class:`FitResult` per replica, in seed order."""
    loss_hist, val_hist = curves
    failed_at = np.asarray(state["failed_at"])
    bad_loss = np.asarray(state["bad_loss"])
    epochs_run = np.asarray(state["epochs_run"])
    tr_np = [np.asarray(a) for a in final_tr]
    nt_np = [np.asarray(a) for a in final_nt]
    results = []
    for i in range(lay.n_rep):
        ran = int(epochs_run[i])
        hist = {"loss": [float(v) for v in loss_hist[:ran, i]]}
        if lay.has_val:
            hist["val_loss"] = [float(v) for v in val_hist[:ran, i]]
        error = None
        val_pred, pred = preds[i, : lay.n_val].copy(), preds[i, lay.n_val :].copy()
        if failed_at[i]:
            error = non_finite_loss(float(bad_loss[i]), int(failed_at[i]))
            val_pred = pred = np.zeros((0, *preds.shape[2:]), np.float32)
        results.append(
            FitResult(
                seed=spec.seed + i,
                history=hist,
                test_pred=pred,
                val_pred=val_pred,
                seconds=seconds,
                weights=reps.weights(tr_np, nt_np, i),
                error=error,
                epochs_run=ran,
            )
        )
    return results


def _epochs_per_call(ran: int, seconds: float, most: int) -> int:
    """Epochs for the next compiled call: about ``CALL_SECONDS`` at the last call's pace."""
    if ran < 1 or seconds <= 0:
        return most
    return max(1, min(most, int(CALL_SECONDS * ran / seconds)))
