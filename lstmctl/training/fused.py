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
"""

from __future__ import annotations

import gc
import logging
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmctl import signals
from lstmctl.data.prepared import Prepared
from lstmctl.errors import RunError, SpecError
from lstmctl.memory import out_of_memory
from lstmctl.models.registry import Shapes, build_model
from lstmctl.spec import Spec
from lstmctl.training.batches import trim_for_stateful
from lstmctl.training.checks import check_windows
from lstmctl.training.result import FitResult, failed_fit, non_finite_loss

log = logging.getLogger("lstmctl")

# Windows per vmapped call when evaluating or predicting a stateless model.
EVAL_BATCH = 512
# A signal waits for the compiled call under way: the epochs per call are
# chosen so that one takes about this long (at least one epoch).
CALL_SECONDS = 1.0
# Replicas in one program; more are fitted block after block.
BLOCK = 1024
# The most losses (epochs x replicas) one call returns.
CALL_LOSSES = 1 << 20

# progress(repeat, epochs_done, total): repeat is -1 while every replica trains
# at once, else the last replica of the block training (as the Keras path counts).
Progress = Callable[[int, int, int], None]


@dataclass
class _Replicas:
    """One Keras model (the program's structure) and every replica's variable values."""

    model: Any
    trainable: list[np.ndarray]  # each (R, *shape)
    non_trainable: list[np.ndarray]  # each (R, *shape)
    # model.weights (get_weights order) -> ("t" | "n", index into the lists above)
    weight_slots: list[tuple[str, int]]


def fit_fused(
    spec: Spec,
    data: Prepared,
    progress: Callable[[int, int], None] | None = None,
    on_epochs: Callable[[int, dict[str, np.ndarray]], None] | None = None,
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
    on_epochs: Callable[[int, dict[str, np.ndarray]], None] | None = None,
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
    return spec.model_copy(
        update={
            "seed": spec.seed + first,
            "evaluate": spec.evaluate.model_copy(update={"repeats": count}),
        }
    )


def _fit_or_split(
    spec: Spec,
    data: Prepared,
    progress: Callable[[int, int], None] | None,
    on_epochs: Callable[[int, dict[str, np.ndarray]], None] | None,
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
    on_epochs: Callable[[int, dict[str, np.ndarray]], None] | None,
    initial_weights: list[list[np.ndarray]] | None,
) -> list[FitResult]:
    """:func:`fit_fused`'s replicas as one compiled program (whatever memory it needs)."""
    start = time.perf_counter()
    import jax
    import jax.numpy as jnp
    import keras

    if keras.backend.backend() != "jax":
        raise RunError(
            f"the fused trainer needs Keras on JAX, found {keras.backend.backend()}; "
            "use backend: auto (or set KERAS_BACKEND=jax before importing keras)",
            where="backend",
        )

    n_rep = spec.evaluate.repeats
    tspec = spec.train
    epochs = tspec.epochs
    batch = tspec.batch_size
    stateful = spec.model.stateful
    es = tspec.early_stopping
    horizon, n_targets = int(data.y_train.shape[1]), int(data.y_train.shape[2])

    # ------------------------------------------------------------------ data and model
    check_windows(spec, data)
    if stateful:
        X_fit, y_fit = trim_for_stateful(data.X_train, data.y_train, batch)
    else:
        X_fit, y_fit = data.X_train, data.y_train
        # A batch larger than the data is one batch of it all (the padding has no weight):
        # padding to train.batch_size would allocate it, however absurd.
        batch = min(batch, len(X_fit))
    n_val = len(data.X_val)
    has_val = n_val > 0
    monitor_val = es is not None and es.monitor == "val_loss"
    restore_best = es is not None and es.restore_best

    optimizer = _optimizer(keras, tspec.optimizer, tspec.learning_rate)
    loss_fn = _loss(keras, tspec.loss)
    shapes = Shapes(
        lookback=int(data.X_train.shape[1]),
        n_inputs=int(data.X_train.shape[2]),
        horizon=horizon,
        n_targets=n_targets,
        batch_size=batch if stateful else None,
        mask_value=data.mask_value,
        state_mode="explicit" if stateful else "native",
        **data.shape_hints(),
    )
    log.info("building %d replicas (seeds %d to %d)", n_rep, spec.seed, spec.seed + n_rep - 1)
    reps = _build_replicas(spec, shapes, n_rep, initial_weights)
    model = reps.model
    n_states = len(model.inputs) - 1
    if stateful and n_states == 0:
        raise RunError(
            f"architecture {spec.model.arch!r} takes no explicit states, so the fused "
            "trainer cannot carry a stateful model's state; use backend: tensorflow",
            where="model.arch",
        )
    state_shapes = [tuple(int(d) for d in t.shape[1:]) for t in model.inputs[1:]]
    optimizer.build(model.trainable_variables)

    n_fit = len(X_fit)
    n_batches = n_fit // batch if stateful else math.ceil(n_fit / batch)
    val_batch = batch if stateful else min(n_val, max(tspec.batch_size, EVAL_BATCH))
    arrays: dict[str, Any] = {
        "X": jnp.asarray(X_fit, jnp.float32),
        "y": jnp.asarray(y_fit, jnp.float32),
    }
    if has_val:
        Xv, yv, wv = _padded_batches(data.X_val, data.y_val, val_batch)
        arrays.update(Xv=jnp.asarray(Xv), yv=jnp.asarray(yv), wv=jnp.asarray(wv))

    # ------------------------------------------------------------------ one replica
    def zero_states(rows: int) -> list[Any]:
        return [jnp.zeros((rows, *s), jnp.float32) for s in state_shapes]

    def call(tr: Any, nt: Any, x: Any, states: list[Any], training: bool) -> tuple:
        inputs = [x, *states] if n_states else x
        out, nt2, losses = model.stateless_call(
            tr, nt, inputs, training=training, return_losses=True
        )
        if n_states:
            return out[0], list(out[1:]), nt2, losses
        return out, [], nt2, losses

    def batch_loss(
        tr: Any, nt: Any, x: Any, y: Any, w: Any, states: list[Any], training: bool
    ) -> tuple:
        pred, states2, nt2, losses = call(tr, nt, x, states, training)
        per_sample = _per_sample(loss_fn(y, pred), x.shape[0])
        loss = jnp.sum(per_sample * w) / jnp.maximum(jnp.sum(w), 1.0)
        for extra in losses:
            loss = loss + extra
        return loss, (nt2, states2)

    def train_loss(tr: Any, nt: Any, x: Any, y: Any, w: Any, states: list[Any]) -> tuple:
        return batch_loss(tr, nt, x, y, w, states, True)

    grad_fn = jax.value_and_grad(train_loss, has_aux=True)

    def where(c: Any, a: Any, b: Any) -> Any:
        return jax.tree.map(lambda u, v: jnp.where(c, u, v), a, b)

    def epoch_order(key_data: Any, epoch: Any) -> tuple[Any, Any]:
        if tspec.shuffle:
            key = jax.random.fold_in(jax.random.wrap_key_data(key_data), epoch)
            perm = jax.random.permutation(key, n_fit).astype(jnp.int32)
        else:
            perm = jnp.arange(n_fit, dtype=jnp.int32)
        pad = n_batches * batch - n_fit
        order = jnp.concatenate([perm, jnp.zeros((pad,), jnp.int32)]).reshape(n_batches, batch)
        w = (jnp.arange(n_batches * batch) < n_fit).astype(jnp.float32)
        return order, w.reshape(n_batches, batch)

    def validate(tr: Any, nt: Any, states: list[Any], arr: dict[str, Any]) -> Any:
        if not stateful:
            states = []

        def step(carry: Any, inp: Any) -> tuple:
            states, total = carry
            x, y, w = inp
            loss, (_, states2) = batch_loss(tr, nt, x, y, w, states, False)
            return (states2, total + loss * jnp.sum(w)), None

        (_, total), _ = jax.lax.scan(
            step, (states, jnp.float32(0.0)), (arr["Xv"], arr["yv"], arr["wv"])
        )
        return total / n_val

    def run_epoch(st: dict[str, Any], epoch: Any, arr: dict[str, Any]) -> tuple:
        active = st["active"]
        order, weights = epoch_order(st["key"], epoch)

        def step(carry: Any, inp: Any) -> tuple:
            tr, nt, ov, states, ok_all, total, bad = carry
            idx, w = inp
            x, y = arr["X"][idx], arr["y"][idx]
            (loss, (nt2, states2)), grads = grad_fn(tr, nt, x, y, w, states)
            tr2, ov2 = optimizer.stateless_apply(ov, grads, tr)
            ok = jnp.isfinite(loss)
            go = active & ok_all & ok
            carry = (
                where(go, tr2, tr),
                where(go, nt2, nt),
                where(go, ov2, ov),
                states2,
                ok_all & ok,
                total + loss * jnp.sum(w),
                jnp.where(ok_all & ~ok, loss, bad),  # the first loss that was not finite
            )
            return carry, None

        init = (
            st["tr"],
            st["nt"],
            st["opt"],
            zero_states(batch),
            jnp.bool_(True),
            jnp.float32(0.0),
            jnp.float32(0.0),
        )
        (tr, nt, ov, states, ok_all, total, bad), _ = jax.lax.scan(step, init, (order, weights))
        loss = total / n_fit
        val = validate(tr, nt, states, arr) if has_val else jnp.float32(jnp.nan)

        still = active & ok_all
        new = dict(st, tr=tr, nt=nt, opt=ov)
        new["failed_at"] = jnp.where(active & ~ok_all, epoch + 1, st["failed_at"])
        new["bad_loss"] = jnp.where(active & ~ok_all, bad, st["bad_loss"])
        new["epochs_run"] = jnp.where(active, epoch + 1, st["epochs_run"])
        new["active"] = still
        if es is not None:
            current = val if monitor_val else loss
            improved = still & (current + es.min_delta < st["best"])
            wait = jnp.where(improved, 0, st["wait"] + 1)
            stop = still & ~improved & (wait >= es.patience) & (epoch > 0)
            new["best"] = jnp.where(improved, current, st["best"])
            new["wait"] = jnp.where(still, wait, st["wait"])
            new["active"] = still & ~stop
            if restore_best:
                # As Keras: the first epoch's weights are the best until one improves.
                snap = improved | (still & (epoch == 0))
                new["best_tr"] = where(snap, tr, st["best_tr"])
                new["best_nt"] = where(snap, nt, st["best_nt"])
        return new, (loss, val)

    # ------------------------------------------------------------------ the program
    chunk = max(1, epochs // 20)  # progress and on_epochs are called every chunk
    span = max(1, min(chunk, CALL_LOSSES // n_rep))  # the most epochs one call runs
    all_epochs = jax.vmap(run_epoch, in_axes=(0, None, None))

    def run_span(st: dict[str, Any], first: Any, stop: Any, arr: dict[str, Any]) -> tuple:
        """Epochs ``first`` .. ``stop - 1``, or fewer once every replica has stopped."""
        nan = jnp.full((span, n_rep), jnp.nan, jnp.float32)

        def more(carry: tuple) -> Any:
            j, st, _, _ = carry
            return (first + j < stop) & jnp.any(st["active"])

        def epoch(carry: tuple) -> tuple:
            j, st, loss, val = carry
            st, (lj, vj) = all_epochs(st, first + j, arr)
            return j + 1, st, loss.at[j].set(lj), val.at[j].set(vj)

        ran, st, loss, val = jax.lax.while_loop(more, epoch, (jnp.int32(0), st, nan, nan))
        return st, loss, val, ran

    run_span_jit = jax.jit(run_span)

    tr0 = [jnp.asarray(a) for a in reps.trainable]
    nt0 = [jnp.asarray(a) for a in reps.non_trainable]
    state: dict[str, Any] = {
        "tr": tr0,
        "nt": nt0,
        "opt": [
            jnp.asarray(np.broadcast_to(np.asarray(v.value), (n_rep, *v.shape)))
            for v in optimizer.variables
        ],
        "key": jnp.asarray(np.stack([_key_data(spec.seed + i) for i in range(n_rep)])),
        "active": jnp.ones((n_rep,), bool),
        "failed_at": jnp.zeros((n_rep,), jnp.int32),
        "bad_loss": jnp.zeros((n_rep,), jnp.float32),
        "epochs_run": jnp.zeros((n_rep,), jnp.int32),
        "best": jnp.full((n_rep,), jnp.inf, jnp.float32),
        "wait": jnp.zeros((n_rep,), jnp.int32),
    }
    if restore_best:
        state["best_tr"] = tr0
        state["best_nt"] = nt0

    losses, vals = [], []
    done, per_call, compiling = 0, 1, True
    while done < epochs:
        end = min(epochs, done + chunk)
        any_active = True
        while done < end and any_active:
            stop = min(end, done + per_call)
            began = time.perf_counter()
            state, loss_c, val_c, ran = run_span_jit(
                state, jnp.int32(done), jnp.int32(stop), arrays
            )
            losses.append(np.asarray(loss_c)[: stop - done])
            vals.append(np.asarray(val_c)[: stop - done])
            any_active = bool(np.any(np.asarray(state["active"])))
            seconds = time.perf_counter() - began
            per_call = _epochs_per_call(int(ran), seconds, span)
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
    loss_hist = np.concatenate(losses)
    val_hist = np.concatenate(vals)

    # ------------------------------------------------------------------ results
    failed_at = np.asarray(state["failed_at"])
    bad_loss = np.asarray(state["bad_loss"])
    epochs_run = np.asarray(state["epochs_run"])
    final_tr, final_nt = state["tr"], state["nt"]
    if restore_best:
        keep = jnp.asarray(failed_at == 0)
        final_tr = jax.vmap(where)(keep, state["best_tr"], final_tr)
        final_nt = jax.vmap(where)(keep, state["best_nt"], final_nt)

    n_test = len(data.X_test)
    if n_test == 0:
        preds = np.zeros((n_rep, 0, horizon, n_targets), np.float32)
    elif stateful:
        history = data.X_train if n_val == 0 else np.concatenate([data.X_train, data.X_val])

        def replay(tr: Any, nt: Any, hist: Any, test: Any) -> Any:
            def step(states: list[Any], x: Any) -> tuple:
                pred, states2, _, _ = call(tr, nt, x[None], states, False)
                return states2, pred[0]

            states, _ = jax.lax.scan(step, zero_states(1), hist)
            return jax.lax.scan(step, states, test)[1]

        preds = jax.jit(jax.vmap(replay, in_axes=(0, 0, None, None)))(
            final_tr,
            final_nt,
            jnp.asarray(history, jnp.float32),
            jnp.asarray(data.X_test, jnp.float32),
        )
    else:
        Xp, _, _ = _padded_batches(data.X_test, None, min(n_test, EVAL_BATCH))

        def predict(tr: Any, nt: Any, xs: Any) -> Any:
            def step(_: Any, x: Any) -> tuple:
                return None, call(tr, nt, x, [], False)[0]

            return jax.lax.scan(step, None, xs)[1].reshape(-1, horizon, n_targets)

        preds = jax.jit(jax.vmap(predict, in_axes=(0, 0, None)))(
            final_tr, final_nt, jnp.asarray(Xp)
        )
    preds = np.asarray(preds)[:, :n_test]
    tr_np = [np.asarray(a) for a in final_tr]
    nt_np = [np.asarray(a) for a in final_nt]

    seconds = (time.perf_counter() - start) / n_rep
    results = []
    for i in range(n_rep):
        ran = int(epochs_run[i])
        hist = {"loss": [float(v) for v in loss_hist[:ran, i]]}
        if has_val:
            hist["val_loss"] = [float(v) for v in val_hist[:ran, i]]
        weights = [(tr_np if kind == "t" else nt_np)[k][i].copy() for kind, k in reps.weight_slots]
        error = None
        pred = preds[i].copy()
        if failed_at[i]:
            error = non_finite_loss(float(bad_loss[i]), int(failed_at[i]))
            pred = np.zeros((0, horizon, n_targets), np.float32)
        results.append(
            FitResult(
                seed=spec.seed + i,
                history=hist,
                test_pred=pred,
                seconds=seconds,
                weights=weights,
                error=error,
                epochs_run=ran,
            )
        )
    return results


# --------------------------------------------------------------------------- helpers


def _build_replicas(
    spec: Spec, shapes: Shapes, n_rep: int, initial: list[list[np.ndarray]] | None = None
) -> _Replicas:
    """Build the model once per seed (as a plain Keras build would) and stack its variables."""
    trainable: list[list[np.ndarray]] = []
    non_trainable: list[list[np.ndarray]] = []
    model = None
    for i in range(n_rep):
        signals.check()  # building many replicas takes minutes
        _set_random_seed(spec.seed + i)
        m = build_model(spec.model, shapes)
        if initial is not None:
            m.set_weights(initial[i])
        trainable.append([np.asarray(v.value) for v in m.trainable_variables])
        non_trainable.append([np.asarray(v.value) for v in m.non_trainable_variables])
        if model is None:
            model = m
    assert model is not None
    tr = [np.stack(vs) for vs in zip(*trainable, strict=True)] if trainable[0] else []
    nt = [np.stack(vs) for vs in zip(*non_trainable, strict=True)] if non_trainable[0] else []
    # Integer non-trainable state is RNG seed state (dropout): if a builder fixed
    # the seed, replicas would share their dropout masks; offset them instead.
    for k, a in enumerate(nt):
        if n_rep > 1 and np.issubdtype(a.dtype, np.integer) and (a == a[:1]).all():
            a = a.copy()
            flat = a.reshape(n_rep, -1)
            flat[:, 0] += np.arange(n_rep, dtype=a.dtype)
            nt[k] = flat.reshape(a.shape)
    where_t = {id(v): k for k, v in enumerate(model.trainable_variables)}
    where_n = {id(v): k for k, v in enumerate(model.non_trainable_variables)}
    slots = [
        ("t", where_t[id(w)]) if id(w) in where_t else ("n", where_n[id(w)]) for w in model.weights
    ]
    return _Replicas(model, tr, nt, slots)


def _epochs_per_call(ran: int, seconds: float, most: int) -> int:
    """Epochs for the next compiled call: about ``CALL_SECONDS`` at the last call's pace."""
    if ran < 1 or seconds <= 0:
        return most
    return max(1, min(most, int(CALL_SECONDS * ran / seconds)))


def _set_random_seed(seed: int) -> None:
    """``keras.utils.set_random_seed`` without importing TensorFlow.

    Keras' function also seeds TensorFlow, importing it when it is installed
    (about 2 s, and memory) although a JAX build never reads its seed. What a
    JAX build does read is set the same way here: Python's and NumPy's
    generators and Keras' global seed. If those Keras internals move, or
    TensorFlow is loaded anyway, Keras' own function is used.
    """
    import keras

    if "tensorflow" not in sys.modules:
        try:
            from keras.src.backend.common import global_state
            from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR
            from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED
        except ImportError:
            pass
        else:
            global_state.set_global_attribute(GLOBAL_RANDOM_SEED, seed)
            global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, None)
            random.seed(seed)
            np.random.seed(seed)
            return
    keras.utils.set_random_seed(seed)


def _optimizer(keras: Any, name: str, learning_rate: float | None) -> Any:
    try:
        opt = keras.optimizers.get(name)
    except (ValueError, TypeError) as e:
        raise SpecError(f"unknown optimizer {name!r} ({e})", where="train.optimizer") from None
    if learning_rate is not None:
        opt = opt.__class__.from_config({**opt.get_config(), "learning_rate": learning_rate})
    return opt


def _loss(keras: Any, name: str) -> Callable[[Any, Any], Any]:
    try:
        loss = keras.losses.get(name)
    except (ValueError, TypeError) as e:
        raise SpecError(f"unknown loss {name!r} ({e})", where="train.loss") from None
    if loss is None:
        raise SpecError(f"unknown loss {name!r}", where="train.loss")
    if isinstance(loss, keras.losses.Loss):
        return loss.call  # unreduced: the batch reduction is done here, with weights
    return loss


def _per_sample(values: Any, rows: int) -> Any:
    """A loss function's unreduced values -> one value per sample (the mean of the rest)."""
    import jax.numpy as jnp

    if values.ndim == 0:
        return jnp.broadcast_to(values, (rows,))
    return jnp.mean(jnp.reshape(values, (rows, -1)), axis=1)


def _padded_batches(
    X: np.ndarray, y: np.ndarray | None, size: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``X`` (and ``y``) padded to whole batches of ``size``: shapes (n_batches, size, ...).

    The weights are 1 for real windows and 0 for the padding (copies of window 0).
    """
    n = len(X)
    n_batches = math.ceil(n / size)
    pad = n_batches * size - n
    idx = np.concatenate([np.arange(n), np.zeros(pad, dtype=np.int64)])
    w = (np.arange(n_batches * size) < n).astype(np.float32).reshape(n_batches, size)
    Xb = X[idx].astype(np.float32).reshape(n_batches, size, *X.shape[1:])
    yb = None if y is None else y[idx].astype(np.float32).reshape(n_batches, size, *y.shape[1:])
    return Xb, yb, w


def _key_data(seed: int) -> np.ndarray:
    """Raw threefry key data for an integer seed (as ``jax.random.PRNGKey(seed)``)."""
    return np.array([(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF], dtype=np.uint32)
