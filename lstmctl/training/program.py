"""The compiled trainer's program: R replicas' epochs as one ``jax.jit`` function.

:class:`Layout` holds the sizes a program is compiled for; :class:`Program`
holds its pieces — one batch's loss, one epoch (batches by ``jax.lax.scan``,
mapped over the replicas with ``jax.vmap``) with early stopping and NaN
handling as masks, and a span of epochs in one compiled call
(:meth:`Program.run_span`). :func:`initial_state` is what that call carries
from one span to the next. See :mod:`lstmctl.training.fused` for how it runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared, Windows
from lstmctl.data.window_index import IndexedWindows
from lstmctl.spec import EarlyStoppingSpec, Spec
from lstmctl.training.batches import (
    batch_windows,
    indexed_arrays,
    padded_batches,
    shares_rows,
    trim_for_stateful,
    val_batches,
)
from lstmctl.training.network import Network
from lstmctl.training.replicas import Replicas, key_data

# Windows per vmapped call when evaluating or predicting a stateless model.
EVAL_BATCH = 512
# The most losses (epochs x replicas) one call returns.
CALL_LOSSES = 1 << 20


@dataclass(frozen=True)
class Layout:
    """The sizes one program is compiled for."""

    n_rep: int
    epochs: int
    batch: int  # a stateless model's is no larger than the training windows
    n_fit: int
    n_val: int
    val_batch: int
    stateful: bool
    shuffle: bool
    es: EarlyStoppingSpec | None
    # Each replica trains on its own range of the windows (``st["start"]`` and
    # ``st["count"]``, at most ``n_fit``): a backtest's folds as replicas.
    ranged: bool = False

    @property
    def n_batches(self) -> int:
        return self.n_fit // self.batch if self.stateful else math.ceil(self.n_fit / self.batch)

    @property
    def has_val(self) -> bool:
        return self.n_val > 0

    @property
    def monitor_val(self) -> bool:
        return self.es is not None and self.es.monitor == "val_loss"

    @property
    def restore_best(self) -> bool:
        return self.es is not None and self.es.restore_best

    @property
    def chunk(self) -> int:
        """Epochs between calls of ``progress`` and ``on_epochs``."""
        return max(1, self.epochs // 20)

    @property
    def span(self) -> int:
        """The most epochs one compiled call runs."""
        return max(1, min(self.chunk, CALL_LOSSES // self.n_rep))


def layout(spec: Spec, data: Prepared) -> tuple[Layout, Windows, Windows]:
    """The program's sizes for ``spec`` on ``data``, and the training windows it fits."""
    tspec = spec.train
    batch = tspec.batch_size
    stateful = spec.model.stateful
    X_fit: Windows
    y_fit: Windows
    if stateful:  # never a panel's (refused): its windows are arrays
        X_fit, y_fit = trim_for_stateful(np.asarray(data.X_train), np.asarray(data.y_train), batch)
    else:
        X_fit, y_fit = data.X_train, data.y_train
        # A batch larger than the data is one batch of it all (the padding has no weight):
        # padding to train.batch_size would allocate it, however absurd.
        batch = min(batch, len(X_fit))
    n_val = len(data.X_val)
    lay = Layout(
        n_rep=spec.evaluate.repeats,
        epochs=tspec.epochs,
        batch=batch,
        n_fit=len(X_fit),
        n_val=n_val,
        val_batch=batch if stateful else min(n_val, max(tspec.batch_size, EVAL_BATCH)),
        stateful=stateful,
        shuffle=bool(tspec.shuffle),
        es=tspec.early_stopping,
    )
    return lay, X_fit, y_fit


def device_arrays(lay: Layout, X_fit: Windows, y_fit: Windows, data: Prepared) -> dict[str, Any]:
    """The data every replica shares: training windows, and padded validation batches.

    Windows by index (a panel's, see :mod:`lstmctl.data.window_index`) go as
    their rows and start indices, and each batch is gathered in the program
    (:func:`batch_windows`): the device holds the rows once, not ``lookback``
    copies of them.
    """
    import jax.numpy as jnp

    X_val, y_val = data.X_val, data.y_val
    if shares_rows(X_fit, y_fit, X_val, y_val):
        assert isinstance(X_fit, IndexedWindows) and isinstance(y_fit, IndexedWindows)
        assert isinstance(X_val, IndexedWindows) and isinstance(y_val, IndexedWindows)
        return indexed_arrays(X_fit, y_fit, X_val, y_val, lay.val_batch)
    arrays: dict[str, Any] = {
        "X": jnp.asarray(X_fit, jnp.float32),
        "y": jnp.asarray(y_fit, jnp.float32),
    }
    if lay.has_val:
        Xv, yv, wv = padded_batches(np.asarray(X_val), np.asarray(y_val), lay.val_batch)
        arrays.update(Xv=jnp.asarray(Xv), yv=jnp.asarray(yv), wv=jnp.asarray(wv))
    return arrays


def initial_state(reps: Replicas, optimizer: Any, seed: int, lay: Layout) -> dict[str, Any]:
    """What the program carries between calls, before the first epoch."""
    import jax.numpy as jnp

    n_rep = lay.n_rep
    optimizer.build(reps.model.trainable_variables)
    tr0 = [jnp.asarray(a) for a in reps.trainable]
    nt0 = [jnp.asarray(a) for a in reps.non_trainable]
    state: dict[str, Any] = {
        "tr": tr0,
        "nt": nt0,
        "opt": [
            jnp.asarray(np.broadcast_to(np.asarray(v.value), (n_rep, *v.shape)))
            for v in optimizer.variables
        ],
        "key": jnp.asarray(np.stack([key_data(seed + i) for i in range(n_rep)])),
        "active": jnp.ones((n_rep,), bool),
        "failed_at": jnp.zeros((n_rep,), jnp.int32),
        "bad_loss": jnp.zeros((n_rep,), jnp.float32),
        "epochs_run": jnp.zeros((n_rep,), jnp.int32),
        "best": jnp.full((n_rep,), jnp.inf, jnp.float32),
        "wait": jnp.zeros((n_rep,), jnp.int32),
    }
    if lay.restore_best:
        state["best_tr"] = tr0
        state["best_nt"] = nt0
    return state


def tree_where(c: Any, a: Any, b: Any) -> Any:
    """``a`` where ``c``, else ``b``, leaf by leaf."""
    import jax
    import jax.numpy as jnp

    return jax.tree.map(lambda u, v: jnp.where(c, u, v), a, b)


class Program:
    """One replica's batch, epoch and span of epochs; :meth:`compiled` maps them over all."""

    def __init__(self, net: Network, optimizer: Any, loss_fn: Any, lay: Layout) -> None:
        import jax

        self.net = net
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.lay = lay
        self.grad_fn = jax.value_and_grad(self._train_loss, has_aux=True)

    def compiled(self) -> Any:
        """``run_span(state, first, stop, arrays) -> (state, losses, val_losses, epochs_ran)``."""
        import jax

        return jax.jit(self.run_span)

    def batch_loss(
        self, tr: Any, nt: Any, x: Any, y: Any, w: Any, states: list[Any], training: bool
    ) -> tuple:
        import jax.numpy as jnp

        pred, states2, nt2, losses = self.net.call(tr, nt, x, states, training)
        per_sample = per_sample_loss(self.loss_fn(y, pred), x.shape[0])
        loss = jnp.sum(per_sample * w) / jnp.maximum(jnp.sum(w), 1.0)
        for extra in losses:
            loss = loss + extra
        return loss, (nt2, states2)

    def _train_loss(self, tr: Any, nt: Any, x: Any, y: Any, w: Any, states: list[Any]) -> tuple:
        return self.batch_loss(tr, nt, x, y, w, states, True)

    def epoch_order(self, key: Any, epoch: Any) -> tuple[Any, Any]:
        """The epoch's batches as indices into the windows (padded), and their weights."""
        import jax
        import jax.numpy as jnp

        n_fit, n_batches, batch = self.lay.n_fit, self.lay.n_batches, self.lay.batch
        if self.lay.shuffle:
            k = jax.random.fold_in(jax.random.wrap_key_data(key), epoch)
            perm = jax.random.permutation(k, n_fit).astype(jnp.int32)
        else:
            perm = jnp.arange(n_fit, dtype=jnp.int32)
        pad = n_batches * batch - n_fit
        order = jnp.concatenate([perm, jnp.zeros((pad,), jnp.int32)]).reshape(n_batches, batch)
        w = (jnp.arange(n_batches * batch) < n_fit).astype(jnp.float32)
        return order, w.reshape(n_batches, batch)

    def ranged_order(self, st: dict[str, Any], epoch: Any) -> tuple[Any, Any]:
        """:meth:`epoch_order` over the replica's own range ``start .. start + count - 1``.

        The batches are those of a fit on the range alone, followed by batches
        of weight 0 (which :meth:`run_epoch` skips). Shuffled, the order is a
        uniform permutation of the range (random keys, sorted; those past
        ``count`` sort last), equal in distribution to a fit's own
        ``jax.random.permutation`` but not the same draw: a permutation's size
        cannot depend on a traced count.
        """
        import jax
        import jax.numpy as jnp

        n_fit, n_batches, batch = self.lay.n_fit, self.lay.n_batches, self.lay.batch
        count = st["count"]
        pos = jnp.arange(n_batches * batch, dtype=jnp.int32)
        if self.lay.shuffle:
            k = jax.random.fold_in(jax.random.wrap_key_data(st["key"]), epoch)
            keys = jax.random.uniform(k, (n_fit,))
            keys = jnp.where(jnp.arange(n_fit) < count, keys, 2.0)
            perm = jnp.argsort(keys).astype(jnp.int32)
            perm = jnp.concatenate([perm, jnp.zeros((n_batches * batch - n_fit,), jnp.int32)])
        else:
            perm = pos
        w = (pos < count).astype(jnp.float32)
        order = st["start"] + jnp.where(pos < count, perm, 0)
        return order.reshape(n_batches, batch), w.reshape(n_batches, batch)

    def validate(self, tr: Any, nt: Any, states: list[Any], arr: dict[str, Any]) -> Any:
        import jax
        import jax.numpy as jnp

        if not self.lay.stateful:
            states = []

        batches, windows = val_batches(arr)

        def step(carry: Any, inp: Any) -> tuple:
            states, total = carry
            xb, yb, w = inp
            x, y = windows(xb, yb)
            loss, (_, states2) = self.batch_loss(tr, nt, x, y, w, states, False)
            return (states2, total + loss * jnp.sum(w)), None

        (_, total), _ = jax.lax.scan(step, (states, jnp.float32(0.0)), batches)
        return total / self.lay.n_val

    def run_epoch(self, st: dict[str, Any], epoch: Any, arr: dict[str, Any]) -> tuple:
        """One replica's epoch: its batches, then its validation loss and stopping."""
        import jax
        import jax.numpy as jnp

        active = st["active"]
        if self.lay.ranged:
            order, weights = self.ranged_order(st, epoch)
        else:
            order, weights = self.epoch_order(st["key"], epoch)

        def step(carry: Any, inp: Any) -> tuple:
            tr, nt, ov, states, ok_all, total, bad = carry
            idx, w = inp
            x, y = batch_windows(arr, idx)
            (loss, (nt2, states2)), grads = self.grad_fn(tr, nt, x, y, w, states)
            tr2, ov2 = self.optimizer.stateless_apply(ov, grads, tr)
            ok = jnp.isfinite(loss)
            # A batch of weight 0 (past a ranged replica's windows) changes nothing:
            # not the weights, the optimizer's moments and step, nor the states.
            real = jnp.sum(w) > 0
            go = active & ok_all & ok & real
            carry = (
                tree_where(go, tr2, tr),
                tree_where(go, nt2, nt),
                tree_where(go, ov2, ov),
                tree_where(real, states2, states),
                ok_all & ok,
                total + loss * jnp.sum(w),
                jnp.where(ok_all & ~ok, loss, bad),  # the first loss that was not finite
            )
            return carry, None

        init = (
            st["tr"],
            st["nt"],
            st["opt"],
            self.net.zero_states(self.lay.batch),
            jnp.bool_(True),
            jnp.float32(0.0),
            jnp.float32(0.0),
        )
        (tr, nt, ov, states, ok_all, total, bad), _ = jax.lax.scan(step, init, (order, weights))
        loss = total / (st["count"] if self.lay.ranged else self.lay.n_fit)
        val = self.validate(tr, nt, states, arr) if self.lay.has_val else jnp.float32(jnp.nan)

        new = dict(st, tr=tr, nt=nt, opt=ov)
        new["failed_at"] = jnp.where(active & ~ok_all, epoch + 1, st["failed_at"])
        new["bad_loss"] = jnp.where(active & ~ok_all, bad, st["bad_loss"])
        new["epochs_run"] = jnp.where(active, epoch + 1, st["epochs_run"])
        new["active"] = active & ok_all
        if self.lay.es is not None:
            self._early_stopping(st, new, epoch, loss, val)
        return new, (loss, val)

    def _early_stopping(
        self, st: dict[str, Any], new: dict[str, Any], epoch: Any, loss: Any, val: Any
    ) -> None:
        """Update ``new`` (the epoch's state) for early stopping, as Keras' callback does."""
        import jax.numpy as jnp

        es = self.lay.es
        assert es is not None
        still = new["active"]
        current = val if self.lay.monitor_val else loss
        improved = still & (current + es.min_delta < st["best"])
        wait = jnp.where(improved, 0, st["wait"] + 1)
        stop = still & ~improved & (wait >= es.patience) & (epoch > 0)
        new["best"] = jnp.where(improved, current, st["best"])
        new["wait"] = jnp.where(still, wait, st["wait"])
        new["active"] = still & ~stop
        if self.lay.restore_best:
            # As Keras: the first epoch's weights are the best until one improves.
            snap = improved | (still & (epoch == 0))
            new["best_tr"] = tree_where(snap, new["tr"], st["best_tr"])
            new["best_nt"] = tree_where(snap, new["nt"], st["best_nt"])

    def run_span(self, st: dict[str, Any], first: Any, stop: Any, arr: dict[str, Any]) -> tuple:
        """Epochs ``first`` .. ``stop - 1`` of every replica, or fewer once all have stopped."""
        import jax
        import jax.numpy as jnp

        nan = jnp.full((self.lay.span, self.lay.n_rep), jnp.nan, jnp.float32)
        all_epochs = jax.vmap(self.run_epoch, in_axes=(0, None, None))

        def more(carry: tuple) -> Any:
            j, st, _, _ = carry
            return (first + j < stop) & jnp.any(st["active"])

        def epoch(carry: tuple) -> tuple:
            j, st, loss, val = carry
            st, (lj, vj) = all_epochs(st, first + j, arr)
            return j + 1, st, loss.at[j].set(lj), val.at[j].set(vj)

        ran, st, loss, val = jax.lax.while_loop(more, epoch, (jnp.int32(0), st, nan, nan))
        return st, loss, val, ran


def per_sample_loss(values: Any, rows: int) -> Any:
    """A loss function's unreduced values -> one value per sample (the mean of the rest)."""
    import jax.numpy as jnp

    if values.ndim == 0:
        return jnp.broadcast_to(values, (rows,))
    return jnp.mean(jnp.reshape(values, (rows, -1)), axis=1)
