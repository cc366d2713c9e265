"""Keras layers lstmctl adds, registered so saved models load in safe mode.

This module defines Keras classes, so it imports Keras at module level; it
is only ever imported inside builders and model loaders, never by the CLI.
Loading a saved model needs it imported first (``custom_objects()`` hands
the classes over explicitly).
"""

from __future__ import annotations

from typing import Any

import keras  # noqa: TID253 - Keras classes are defined here; imported lazily by callers


@keras.saving.register_keras_serializable(package="lstmctl")
class ReverseTime(keras.layers.Layer):
    """Reverse a ``(batch, steps, ...)`` tensor along the steps, mask included.

    A backward LSTM is a forward LSTM between two of these: reading the
    reversed window and putting its per-step outputs back in time order.
    (``LSTM(go_backwards=True)`` returns them reversed, and its output mask
    unreversed.)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        return keras.ops.flip(inputs, axis=1)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None if mask is None else keras.ops.flip(mask, axis=1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


def custom_objects() -> dict[str, Any]:
    """The classes to pass to ``keras.saving.load_model(..., custom_objects=...)``."""
    return {"ReverseTime": ReverseTime, "lstmctl>ReverseTime": ReverseTime}
