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
    """Make Keras use the backend for ``spec.backend``; return its Keras name.

    A signal arriving meanwhile is raised once Keras is imported, not inside
    the import (an exception in JAX's or TensorFlow's native initialisation
    can crash the interpreter).
    """
    from lstmctl.signals import deferred

    with deferred():
        return _use_backend(backend)


def _use_backend(backend: str) -> str:
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
    if want == "jax":
        _persistent_compile_cache()
    import keras

    keras.utils.disable_interactive_logging()
    # tf.function retracing notes and the like are for framework developers.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    # "Unable to initialize backend 'tpu'" is JAX probing hardware, not news.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    return keras.backend.backend()


def _persistent_compile_cache() -> None:
    """Keep JAX's compiled programs on disk, so a run's second time skips compiling.

    Compiling is most of a small run's training time (about two dozen XLA
    programs); the same spec run again reuses them. The folder is
    ``$LSTMCTL_JAX_CACHE``, else ``$XDG_CACHE_HOME/lstmctl/jax`` (``~/.cache``);
    ``LSTMCTL_JAX_CACHE=off`` turns it off, and a folder the user configured
    for JAX wins.
    """
    setting = os.environ.get("LSTMCTL_JAX_CACHE", "")
    if setting.lower() == "off" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = setting or os.path.join(base, "lstmctl", "jax")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return  # an unwritable home only costs the compile time
    if not os.access(path, os.W_OK):
        return
    import jax

    if getattr(jax.config, "jax_compilation_cache_dir", None):
        return
    jax.config.update("jax_compilation_cache_dir", path)
    # Small programs are the point: cache them however quick they are to compile.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
