"""JAX's persistent compilation cache, for the many programs a study compiles.

Every group of repeats is one compiled program, and most of a small trial's
time is compiling it (about two dozen XLA programs, 0.1-0.3 s each on two
cores). Programs of the same shapes recur: each group of a pruned trial,
every worker process, a resumed study. Caching them on disk turns those
recompilations into reads (measured on Shampoo, 10 replicas x 1000 epochs:
3.4-5.1 s per later group without the cache, 0.5-0.8 s with it).
"""

from __future__ import annotations

import os
from pathlib import Path

# Set to a folder to share one cache between studies (tests use it).
ENV = "LSTMCTL_JAX_CACHE"


def enable_compile_cache(run_dir: Path, backend: str) -> str | None:
    """Cache compiled programs in ``run_dir/jax-cache`` (or ``$LSTMCTL_JAX_CACHE``).

    A cache folder the user configured for JAX already wins. Returns the
    folder in use, or None (the TensorFlow backend compiles nothing here).
    """
    if backend != "auto":
        return None
    from lstmctl.signals import deferred

    with deferred():  # a signal waits for JAX's import (see training.backend.use_backend)
        import jax

    current = getattr(jax.config, "jax_compilation_cache_dir", None)
    if current:
        return str(current)
    path = os.environ.get(ENV) or str(run_dir / "jax-cache")
    jax.config.update("jax_compilation_cache_dir", path)
    # Small programs are the point here: cache them all, however quick to compile.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
