"""Many series in one long table (``data.series``): one global model, per-series scaling."""

from lstmctl.data.panel.prepare import prepare_panel

__all__ = ["prepare_panel"]
