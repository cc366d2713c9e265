"""What every run's results JSON begins and ends with, a plain run's or a backtest's."""

from __future__ import annotations

from typing import Any

from lstmctl import __version__


def run_summary(res: Any) -> dict[str, Any]:
    """The run's name and model, its repeats' summary beside the baselines, the best
    baseline and the season (``res``: a ``RunResult`` or a ``BacktestResult``)."""
    spec = res.spec
    return {
        "name": spec.name,
        "arch": spec.model.arch,
        "repeats": len(res.rows) - len(res.failed),
        "repeats_requested": spec.evaluate.repeats,
        "metrics": res.summary.metrics,
        "baselines": res.baselines,
        "skill": res.summary.skill,
        **({"best_baseline": res.best_baseline} if res.best_baseline else {}),
        **({"season": res.season} if res.season else {}),
    }


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
