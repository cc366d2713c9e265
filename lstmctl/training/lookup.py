"""The optimizer and loss a spec names, as Keras objects: one lookup for both trainers.

The names were checked when the spec was loaded (:mod:`lstmctl.spec.vocabulary`),
so a name Keras does not know here is lstmctl's fault, not the user's: it is
reported as an internal error.
"""

from __future__ import annotations

from typing import Any

from lstmctl.errors import RunError


def optimizer(name: str, learning_rate: float | None) -> Any:
    """A fresh Keras optimizer ``name`` with its default settings (and ``learning_rate``)."""
    import keras

    try:
        opt = keras.optimizers.get(name)
    except (ValueError, TypeError) as e:
        raise RunError(f"internal: unknown optimizer {name!r} ({e})", "train.optimizer") from None
    if learning_rate is not None:
        opt = opt.__class__.from_config({**opt.get_config(), "learning_rate": learning_rate})
    return opt


def loss(name: str) -> Any:
    """The Keras loss ``name`` (a function of ``(y_true, y_pred)`` or a ``Loss``)."""
    import keras

    try:
        found = keras.losses.get(name)
    except (ValueError, TypeError) as e:
        raise RunError(f"internal: unknown loss {name!r} ({e})", "train.loss") from None
    if found is None:
        raise RunError(f"internal: unknown loss {name!r}", "train.loss")
    return found


def unreduced(found: Any) -> Any:
    """``found`` (from :func:`loss`) as a function returning unreduced values."""
    import keras

    if isinstance(found, keras.losses.Loss):
        return found.call  # the batch reduction is the caller's, with weights
    return found
