"""lstmctl: run LSTM experiments from YAML specs, with honest repeated estimates of skill."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_spec", "run", "tune"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import lstmctl` (and the CLI's start-up) stays instant.
    if name == "run":
        from lstmctl.api import run

        return run
    if name == "tune":
        from lstmctl.api import tune

        return tune
    if name == "load_spec":
        from lstmctl.spec import load_spec

        return load_spec
    raise AttributeError(name)
