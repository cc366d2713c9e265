"""Many series in one long table (``data.series``): one global model, per-series scaling.

``prepare_panel`` is imported when first used: ``predict`` imports
:mod:`lstmctl.data.panel.state` (numpy and pandas only) through this package,
and must not pay for the spec's pydantic models that preparing reads.
"""

from __future__ import annotations

from typing import Any

__all__ = ["prepare_panel"]


def __getattr__(name: str) -> Any:
    if name == "prepare_panel":
        from lstmctl.data.panel.prepare import prepare_panel

        return prepare_panel
    raise AttributeError(name)
