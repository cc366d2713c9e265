"""Backtest folds as replicas: F folds x R repeats fitted by ONE compiled program.

A backtest's fits differ only in the windows they train on, so they are
replicas of one model (see :mod:`lstmctl.training.fused`): replica
``f * R + i`` is repeat ``i`` of fold ``f``, built under seed ``seed + i``
(the same initial weights as repeat ``i`` of any other fold) and trained on
its fold's range of one shared array of windows (``st["start"]``,
``st["count"]``; see :meth:`Program.ranged_order`). Batches past a range
have weight 0 and are skipped outright, so with ``shuffle: false`` each
replica takes exactly the steps a fit on its range alone takes; shuffled,
its batch order is a different (equally distributed) draw.

Forecasts: a stateless model predicts every test window once per replica; a
stateful one replays its history (from ``replay_from`` to the end of its
range) one window at a time and walks into its fold's test windows, the
other windows leaving its states as they were. Each replica keeps its own
fold's test windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lstmctl.data.folds import FoldRange
from lstmctl.data.prepared import Prepared
from lstmctl.spec import Spec
from lstmctl.training import lookup
from lstmctl.training.checks import check_windows
from lstmctl.training.fused import (
    OnEpochs,
    check_backend,
    final_weights,
    forecast_ahead,
    model_shapes,
    run_epochs,
)
from lstmctl.training.network import Network, replay
from lstmctl.training.program import Layout, Program, initial_state
from lstmctl.training.replicas import Replicas, build_replicas, key_data
from lstmctl.training.result import FitResult, non_finite_loss


def fit_folds(
    spec: Spec,
    data: Prepared,
    ranges: list[FoldRange],
    progress: Callable[[int, int], None] | None = None,
    on_epochs: OnEpochs | None = None,
) -> list[list[FitResult]]:
    """Fit every fold's ``spec.evaluate.repeats`` repeats as one program.

    ``data`` holds the shared windows: ``X_train`` then ``X_test`` (no
    validation part); ``ranges`` index them (:func:`lstmctl.data.folds.fold_ranges`).
    Returns ``out[f][i]``, repeat ``i`` of fold ``f``, whose ``test_pred``
    holds the forecasts of fold ``f``'s test windows (``ranges[f].test``).
    ``on_epochs`` sees the ``(epochs, F*R)`` learning curves between chunks of
    epochs, as in :func:`lstmctl.training.fused.fit_fused` (a trial's epoch pruning).
    """
    start = time.perf_counter()
    check_backend()
    check_windows(spec, data)
    n_folds, n_rep = len(ranges), spec.evaluate.repeats
    lay = _layout(spec, ranges)
    optimizer = lookup.optimizer(spec.train.optimizer, spec.train.learning_rate)
    loss_fn = lookup.unreduced(lookup.loss(spec.train.loss))
    reps = _tiled(build_replicas(spec, model_shapes(data, lay), n_rep), n_folds)
    net = Network(reps.model)
    state = initial_state(reps, optimizer, spec.seed, lay)
    state.update(_ranges_state(spec, ranges))
    arrays = _shared_windows(data)
    program = Program(net, optimizer, loss_fn, lay)
    state, loss_hist, _ = run_epochs(program, state, arrays, progress, on_epochs)
    tr, nt = final_weights(state, lay)
    if lay.stateful:
        preds = _walk_folds(net, tr, nt, data, ranges, n_rep)
    else:
        preds = forecast_ahead(net, tr, nt, data, lay)
    seconds = (time.perf_counter() - start) / lay.n_rep
    failed_at = np.asarray(state["failed_at"])
    bad_loss = np.asarray(state["bad_loss"])
    epochs_run = np.asarray(state["epochs_run"])
    tr_np = [np.asarray(a) for a in tr]
    nt_np = [np.asarray(a) for a in nt]
    out: list[list[FitResult]] = []
    for f, rng in enumerate(ranges):
        fold: list[FitResult] = []
        for i in range(n_rep):
            r = f * n_rep + i
            ran = int(epochs_run[r])
            pred = preds[r, rng.test].copy()
            error = None
            if failed_at[r]:
                error = non_finite_loss(float(bad_loss[r]), int(failed_at[r]))
                pred = np.zeros((0, *preds.shape[2:]), np.float32)
            fold.append(
                FitResult(
                    seed=spec.seed + i,
                    history={"loss": [float(v) for v in loss_hist[:ran, r]]},
                    test_pred=pred,
                    seconds=seconds,
                    weights=reps.weights(tr_np, nt_np, r),
                    error=error,
                    epochs_run=ran,
                )
            )
        out.append(fold)
    return out


def _layout(spec: Spec, ranges: list[FoldRange]) -> Layout:
    """A ranged program's sizes: batches enough for the longest range."""
    stateful = spec.model.stateful
    n_fit = max(r.count for r in ranges)
    batch = spec.train.batch_size if stateful else min(spec.train.batch_size, n_fit)
    return Layout(
        n_rep=len(ranges) * spec.evaluate.repeats,
        epochs=spec.train.epochs,
        batch=batch,
        n_fit=n_fit,
        n_val=0,
        val_batch=batch,
        stateful=stateful,
        shuffle=bool(spec.train.shuffle),
        es=spec.train.early_stopping,
        ranged=True,
    )


def _tiled(reps: Replicas, n_folds: int) -> Replicas:
    """The R replicas repeated for every fold (fold-major): fold f's repeat i starts as repeat i."""
    tr = [np.concatenate([a] * n_folds) for a in reps.trainable]
    nt = [np.concatenate([a] * n_folds) for a in reps.non_trainable]
    return Replicas(reps.model, tr, nt, reps.weight_slots)


def _ranges_state(spec: Spec, ranges: list[FoldRange]) -> dict[str, Any]:
    """Each replica's range and its shuffling key (repeat i's, whatever the fold)."""
    import jax.numpy as jnp

    n_rep = spec.evaluate.repeats
    keys = np.stack([key_data(spec.seed + i) for i in range(n_rep)] * len(ranges))
    return {
        "key": jnp.asarray(keys),
        "start": jnp.asarray(np.repeat([r.start for r in ranges], n_rep), jnp.int32),
        "count": jnp.asarray(np.repeat([r.count for r in ranges], n_rep), jnp.int32),
    }


def _shared_windows(data: Prepared) -> dict[str, Any]:
    """The one array of windows every range indexes: training windows, then test windows."""
    import jax.numpy as jnp

    return {
        "X": jnp.asarray(np.concatenate([data.X_train, data.X_test]), jnp.float32),
        "y": jnp.asarray(np.concatenate([data.y_train, data.y_test]), jnp.float32),
    }


def _walk_folds(
    net: Network, tr: Any, nt: Any, data: Prepared, ranges: list[FoldRange], n_rep: int
) -> np.ndarray:
    """A stateful model's forecasts of every test window, per replica: ``(F*R, n_test, ...)``.

    Replica r feeds, in time order, the windows of its history (``replay_from``
    to the end of its range) and its fold's test windows; the rest leave its
    states unchanged. Only its fold's test windows' forecasts are used.
    """
    import jax
    import jax.numpy as jnp

    n_train, n_all = len(data.X_train), len(data.X_train) + len(data.X_test)
    valid = np.zeros((len(ranges), n_all), bool)
    for f, rng in enumerate(ranges):
        valid[f, rng.replay_from : rng.stop] = True
        valid[f, n_train + rng.test] = True
    valid = np.repeat(valid, n_rep, axis=0)
    windows = jnp.asarray(np.concatenate([data.X_train, data.X_test]), jnp.float32)

    def walk(tr: Any, nt: Any, ok: Any) -> Any:
        return replay(net, tr, nt, windows, None, ok)[1]

    preds = jax.jit(jax.vmap(walk))(tr, nt, jnp.asarray(valid))
    return np.asarray(preds)[:, n_train:]
