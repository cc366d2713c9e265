"""What every run's results JSON ends with, a plain run's or a backtest's."""

from __future__ import annotations

from typing import Any

from lstmctl import __version__


def run_record(res: Any) -> dict[str, Any]:
    """The repeats, the failures, the targets and where and how the run went.

    ``res`` is a ``RunResult`` or a ``BacktestResult``: their ``rows`` (scored
    repeats), ``failed``, ``target_names``, ``n_test``, ``trainer``,
    ``complete``, ``run_dir`` and ``seconds``.
    """
    return {
        "per_repeat": [r.row() for r in res.rows],
        "failed": [{"repeat": r.repeat, "error": r.error} for r in res.failed],
        "targets": res.target_names,
        "test_windows": res.n_test,
        "trainer": res.trainer,
        "complete": res.complete,
        "run_dir": str(res.run_dir),
        "seconds": round(res.seconds, 3),
        "lstmctl": __version__,
    }
