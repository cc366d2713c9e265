"""Replicas: one Keras model's variables for R seeds, stacked on a leading axis.

The compiled trainer (:mod:`lstmctl.training.fused`) maps its program over
that axis; the update experiment stacks fitted weights the same way to
forecast with every repeat at once.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmctl import signals
from lstmctl.models.registry import Shapes, build_model
from lstmctl.spec import Spec

# model.weights (get_weights order) -> ("t" | "n", index into the trainable or
# non-trainable variables)
Slots = list[tuple[str, int]]


@dataclass
class Replicas:
    """One Keras model (the program's structure) and every replica's variable values."""

    model: Any
    trainable: list[np.ndarray]  # each (R, *shape)
    non_trainable: list[np.ndarray]  # each (R, *shape)
    weight_slots: Slots

    def weights(self, trainable: list[np.ndarray], non_trainable: list[np.ndarray], i: int) -> list:
        """Replica ``i``'s weights in ``get_weights`` order, from stacked values."""
        stacked = {"t": trainable, "n": non_trainable}
        return [stacked[kind][k][i].copy() for kind, k in self.weight_slots]


def weight_slots(model: Any) -> Slots:
    """Where each of ``model.weights`` is among its trainable and non-trainable variables."""
    where_t = {id(v): k for k, v in enumerate(model.trainable_variables)}
    where_n = {id(v): k for k, v in enumerate(model.non_trainable_variables)}
    return [
        ("t", where_t[id(w)]) if id(w) in where_t else ("n", where_n[id(w)]) for w in model.weights
    ]


def stack_weights(
    model: Any, weights: list[list[np.ndarray]]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Replicas' weights (each in ``get_weights`` order) as stacked variable values.

    Non-trainable variables outside ``get_weights`` (RNG seed state) keep
    ``model``'s values, the same for every replica.
    """
    slots = weight_slots(model)
    n_tr = sum(1 for kind, _ in slots if kind == "t")
    tr: list[Any] = [None] * n_tr
    nt = [
        np.broadcast_to(np.asarray(v.value), (len(weights), *v.shape))
        for v in model.non_trainable_variables
    ]
    for j, (kind, k) in enumerate(slots):
        stacked = np.stack([w[j] for w in weights])
        if kind == "t":
            tr[k] = stacked
        else:
            nt[k] = stacked
    return tr, nt


def build_replicas(
    spec: Spec, shapes: Shapes, n_rep: int, initial: list[list[np.ndarray]] | None = None
) -> Replicas:
    """Build the model once per seed (as a plain Keras build would) and stack its variables."""
    trainable: list[list[np.ndarray]] = []
    non_trainable: list[list[np.ndarray]] = []
    model = None
    for i in range(n_rep):
        signals.check()  # building many replicas takes minutes
        set_random_seed(spec.seed + i)
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
    return Replicas(model, tr, nt, weight_slots(model))


def set_random_seed(seed: int) -> None:
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


def key_data(seed: int) -> np.ndarray:
    """Raw threefry key data for an integer seed (as ``jax.random.PRNGKey(seed)``)."""
    return np.array([(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF], dtype=np.uint32)
