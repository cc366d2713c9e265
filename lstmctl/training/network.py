"""A Keras model called through its stateless API, and LSTM state replay.

The one convention relied on is the explicit-state one of stateful models:
inputs beyond the first are initial states, outputs beyond the first are the
final states, in the same order. *Replay* feeds windows one at a time (a
batch of one) from zero states, so the state holds the history before a
forecast: the compiled trainer's test forecasts, a saved model's states
(``finalize``, ``update``) and the update experiment's walk all replay here.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Network:
    """``model.stateless_call`` with the states split out of its inputs and outputs."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.n_states = len(model.inputs) - 1
        self.state_shapes = [tuple(int(d) for d in t.shape[1:]) for t in model.inputs[1:]]

    def zero_states(self, rows: int) -> list[Any]:
        import jax.numpy as jnp

        return [jnp.zeros((rows, *s), jnp.float32) for s in self.state_shapes]

    def call(self, tr: Any, nt: Any, x: Any, states: list[Any], training: bool) -> tuple:
        """``(output, final states, new non-trainable values, added losses)``."""
        inputs = [x, *states] if self.n_states else x
        out, nt2, losses = self.model.stateless_call(
            tr, nt, inputs, training=training, return_losses=True
        )
        if self.n_states:
            return out[0], list(out[1:]), nt2, losses
        return out, [], nt2, losses


def replay(
    net: Network,
    tr: Any,
    nt: Any,
    windows: Any,
    states: list[Any] | None = None,
    valid: Any = None,
) -> tuple[list[Any], Any]:
    """Feed ``windows`` one at a time from ``states`` (zeros): the final states and each forecast.

    Traceable (inside ``jax.jit`` / ``jax.vmap``). Where ``valid`` is given, a
    window whose entry is false leaves the states as they were (padding).
    """
    import jax
    import jax.numpy as jnp

    def step(st: list[Any], x: Any) -> tuple:
        pred, st2, _, _ = net.call(tr, nt, x[None], st, False)
        return st2, pred[0]

    def masked(st: list[Any], inp: Any) -> tuple:
        x, ok = inp
        st2, pred = step(st, x)
        return [jnp.where(ok, a, b) for a, b in zip(st2, st, strict=True)], pred

    start = net.zero_states(1) if states is None else states
    if valid is None:
        return jax.lax.scan(step, start, windows)
    return jax.lax.scan(masked, start, (windows, valid))


def replay_states(model: Any, X: np.ndarray) -> list[np.ndarray]:
    """The explicit LSTM states of ``model`` after feeding it windows ``X`` from zero states."""
    import keras

    sizes = [tuple(int(d) for d in t.shape[1:]) for t in model.inputs[1:]]
    states = [np.zeros((1, *s), np.float32) for s in sizes]
    if not len(X):
        return states
    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        net = Network(model)
        tv = [v.value for v in model.trainable_variables]
        nv = [v.value for v in model.non_trainable_variables]
        final = jax.jit(lambda s, xs: replay(net, tv, nv, xs, s)[0])(states, jnp.asarray(X))
        return [np.asarray(s) for s in final]
    current: list[Any] = states
    for x in X:
        out = model([x[None], *current], training=False)
        current = [np.asarray(keras.ops.convert_to_numpy(o)) for o in out[1:]]
    return [np.asarray(s) for s in current]
