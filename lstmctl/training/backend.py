"""Choosing the Keras backend before Keras is imported.

Keras reads ``KERAS_BACKEND`` once, at its first import, so the choice is
made per process: ``auto`` trains with the compiled replica trainer on JAX,
``tensorflow`` with Keras' own ``fit`` on TensorFlow.
"""

from __future__ import annotations

import logging
import os
import sys

from lstmctl.errors import RunError

KERAS_NAME = {"auto": "jax", "tensorflow": "tensorflow"}


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ and Python log noise (it goes to stderr anyway)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def use_backend(backend: str) -> str:
    """Make Keras use the backend for ``spec.backend``; return its Keras name."""
    quiet_tensorflow()
    want = KERAS_NAME[backend]
    if "keras" in sys.modules:
        import keras

        have = keras.backend.backend()
        if have != want:
            raise RunError(
                f"Keras is already running on {have} in this process, but backend: {backend} "
                f"needs {want}; start a new process (or set KERAS_BACKEND={want} before "
                "importing keras)",
                where="backend",
            )
        return have
    os.environ["KERAS_BACKEND"] = want
    import keras

    keras.utils.disable_interactive_logging()
    # tf.function retracing notes and the like are for framework developers.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    # "Unable to initialize backend 'tpu'" is JAX probing hardware, not news.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    return keras.backend.backend()
