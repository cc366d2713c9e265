"""``run`` with ``evaluate.backtest``: F folds x R repeats, fused, scored per fold and pooled.

The path (``lstmctl.workflows.run.run`` hands over here when the spec asks
for a backtest):

1. the usual checks (:func:`lstmctl.evaluation.preflight.check_run`) on the
   spec as written, then the folds' rows (:func:`lstmctl.data.folds.plan_folds`);
   steps 1 to 3 are :mod:`lstmctl.evaluation.backtest`'s, which a tuning trial
   with a backtest runs too;
2. the data prepared once with a test part that starts at the earliest
   fold's test rows: the pipeline (transforms, scaler) is fitted on the
   earliest fold's training rows and shared by every fold. No fold sees a
   row of its test part through the scaler; a later fold's scaler is fitted
   on fewer rows than a run on that fold alone would fit it on (a choice for
   one shared array of windows, which is what lets the folds fuse);
3. with ``refit: true`` every fold's repeats in one compiled program
   (:func:`lstmctl.training.folds_fit.fit_folds`); with ``refit: false`` the
   repeats fitted once on the earliest fold's training rows
   (:func:`lstmctl.training.fused.fit_fused`), forecasting every fold;
4. the scores (:func:`lstmctl.evaluation.backtest.score_backtest`), the run
   directory (``spec.yaml``, ``results.json``, ``repeats.csv`` with the
   pooled scores, ``backtest.png``).

What a backtest refuses (one SpecError naming the key): a generated problem
(no series to cut folds from), ``backend: tensorflow`` (the folds are fused
replicas; the plain Keras path would be F separate runs), early stopping on
``val_loss``, a validation part, intervals and the update experiment (each
needs a validation or update walk per fold, not built yet), many series,
MLflow tracking.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmctl.data.folds import FoldPlan
from lstmctl.data.prepared import Prepared
from lstmctl.errors import Interrupted

# The preparation and its checks live below the workflows (a tuning trial runs them too).
from lstmctl.evaluation.backtest import check_backtest as check_backtest
from lstmctl.evaluation.backtest import prepare_backtest as prepare_backtest
from lstmctl.spec import Spec
from lstmctl.training.result import Progress
from lstmctl.workflows.results import run_record, run_summary

log = logging.getLogger("lstmctl")


@dataclass
class BacktestOutputs:
    """The files a backtest draws (what ``--plot`` lists)."""

    plots: list[Path] = field(default_factory=list)


@dataclass
class BacktestResult:
    """A backtest's outcome, shaped like ``RunResult`` for the report (its repeats and
    summary are the pooled ones) plus ``backtest``, the per-fold and pooled scores."""

    spec: Spec
    rows: list[Any]
    baselines: dict[str, dict[str, float]]
    summary: Any
    backtest: Any
    run_dir: Path
    seconds: float
    n_test: int
    season: int | None = None
    trainer: str = "fused"
    complete: bool = True
    target_names: list[str] = field(default_factory=list)
    outputs: BacktestOutputs = field(default_factory=BacktestOutputs)
    updating: Any = None
    ensemble: Any = None
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[Any]:
        return [r for r in self.rows if r.error is not None]

    @property
    def best_baseline(self) -> str | None:
        sig = self.backtest.pooled.significance
        return None if sig is None else str(sig["vs"])

    def to_json(self) -> dict[str, Any]:
        """``run``'s results JSON (pooled metrics and baselines) plus ``backtest``."""
        bt = self.spec.evaluate.backtest
        assert bt is not None
        sig = self.backtest.pooled.significance
        return {
            **run_summary(self),
            **({"significance": sig} if sig else {}),
            "backtest": {"settings": bt.model_dump(mode="json"), **self.backtest.to_json()},
            **run_record(self),
        }


def run_backtest(
    spec: Spec, runs_dir: str | Path | None = None, progress: Progress | None = None
) -> BacktestResult:
    """Fit and score every fold (see the module's docstring); write the run directory."""
    from lstmctl.rundir import create_run_dir, discard_run_dir, write_atomic

    start = time.perf_counter()
    spec, data, plan = prepare_backtest(spec)
    run_dir = create_run_dir(runs_dir or spec.runs_dir, spec.name)
    write_atomic(run_dir / "spec.yaml", spec.to_yaml())
    try:
        res = _fit_and_score(spec, data, plan, run_dir, progress)
    except KeyboardInterrupt as e:
        discard_run_dir(run_dir)
        from lstmctl.signals import interrupted, signum_of

        what = f"{interrupted(signum_of(e))} during the backtest's fit; nothing was kept"
        raise Interrupted(what, where="run", signum=signum_of(e)) from None
    except Exception:
        discard_run_dir(run_dir)
        raise
    res.seconds = time.perf_counter() - start
    _write(res)
    return res


def _fit_and_score(
    spec: Spec, data: Prepared, plan: FoldPlan, run_dir: Path, progress: Progress | None
) -> BacktestResult:
    from lstmctl.evaluation.backtest import backtest_ranges, fit_backtest
    from lstmctl.evaluation.evaluate import baseline_forecasts, season_of, summarize_repeats

    bt = spec.evaluate.backtest
    assert bt is not None
    ranges = backtest_ranges(spec, data, plan)
    log.info(
        "backtest: %d folds x %d repeats (%s, %s)",
        bt.folds,
        spec.evaluate.repeats,
        bt.window,
        "refitted per fold" if bt.refit else "one fit",
    )

    def per_call(done: int, total: int) -> None:
        if progress is not None:
            progress(-1, done, total)

    scores = fit_backtest(spec, data, plan, ranges, baseline_forecasts(spec, data), per_call)
    pooled = scores.pooled
    return BacktestResult(
        spec=spec,
        rows=pooled.rows,
        baselines=pooled.baselines,
        summary=summarize_repeats(spec, pooled.rows, pooled.baselines),
        backtest=scores,
        run_dir=run_dir,
        seconds=0.0,
        n_test=sum(len(r.test) for r in ranges),
        season=season_of(spec, data),
        target_names=list(data.target_names),
    )


def _write(res: BacktestResult) -> None:
    """results.json, repeats.csv (pooled), backtest.png and report.html."""
    from lstmctl.report.backtest_view import backtest_chart
    from lstmctl.report.html import write_report
    from lstmctl.rundir import csv_text, write_atomic, write_json

    data = res.to_json()
    write_atomic(res.run_dir / "repeats.csv", csv_text([r.row() for r in res.rows]))
    write_json(res.run_dir / "results.json", data)
    chart = backtest_chart(data["backtest"], res.run_dir / "backtest.png")
    res.outputs.plots = [] if chart is None else [chart]
    write_report(res.run_dir)  # the per-fold tables, the verdict and the chart
