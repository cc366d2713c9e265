"""``run``: prepare the data, fit R repeats, score each walk-forward beside the baselines.

The run directory is written as the repeats finish, so an interrupted run
keeps what finished; ``lstmctl.api.run`` (and ``lstmctl run SPEC``) call it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmctl.errors import Interrupted, RunError
from lstmctl.spec import Spec, load_spec
from lstmctl.workflows.results import run_record, run_summary

if TYPE_CHECKING:
    from lstmctl.training.result import Progress

log = logging.getLogger("lstmctl")

# The results so far are rewritten at most this often (seconds) while repeats
# come in, and always at the end or on an interruption: rewriting them after
# every one of a fused block's thousands of repeats costs time quadratic in them.
SAVE_EVERY = 1.0


@dataclass
class RunResult:
    """The outcome of ``run``: per-repeat scores, their summary, the baselines."""

    spec: Spec
    rows: list[Any]
    baselines: dict[str, dict[str, float]]
    summary: Any
    run_dir: Path
    seconds: float
    trainer: str
    complete: bool
    n_test: int
    target_names: list[str] = field(default_factory=list)
    # Learning curves and test forecasts of each repeat (report.outputs.RunOutputs);
    # its ``plots`` lists the PNGs written into the run directory.
    outputs: Any = None
    # Lesson 13's update experiment (evaluation.updating.UpdateComparison), when asked for.
    updating: Any = None
    # Text sampled from the best repeat of a generative text run (lstmctl.serving.generation).
    samples: list[dict[str, Any]] = field(default_factory=list)
    # The repeats as an ensemble (evaluation.ensemble.EnsembleResult): its scores,
    # intervals and the verdict against the best baseline; None for classification.
    ensemble: Any = None
    # The seasonal period the baselines and scaled metrics used (None: not needed/known).
    season: int | None = None
    # A panel (data.series): each series' metrics, baselines and skill
    # (evaluation.per_series.summarize_series), and the series left out (id -> why).
    per_series: dict[str, Any] | None = None
    skipped_series: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[Any]:
        return [r for r in self.rows if r.error is not None]

    @property
    def best_baseline(self) -> str | None:
        """The baseline with the best score on the first metric (None: no baseline)."""
        from lstmctl.spec.vocabulary import LOWER_IS_BETTER

        metric = next(iter(self.summary.metrics), None)
        scored = {
            k: v[metric]
            for k, v in self.baselines.items()
            if metric in v and v[metric] == v[metric]
        }
        if not scored or metric is None:
            return None
        pick = min if LOWER_IS_BETTER[metric] else max
        return pick(scored, key=lambda k: scored[k])

    def to_json(self) -> dict[str, Any]:
        """The results shape documented in DESIGN.md (plus a few extra keys)."""
        return {
            **run_summary(self),
            **(
                {"per_series": self.per_series, "skipped_series": self.skipped_series}
                if self.per_series is not None
                else {}
            ),
            **(self.ensemble.to_json() if self.ensemble is not None else {}),
            **run_record(self),
            **({"update": self.updating.to_json()} if self.updating is not None else {}),
            **({"samples": self.samples} if self.samples else {}),
        }


def run(
    spec: Spec | str | Path,
    overrides: list[str] | None = None,
    runs_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Prepare the data, fit R repeats, score each walk-forward against the baseline."""
    from lstmctl.evaluation.preflight import check_run
    from lstmctl.rundir import create_run_dir, write_atomic

    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides or [])
    if spec.evaluate.backtest is not None:  # F folds x R repeats, fused: its own path
        from lstmctl.workflows.backtest import run_backtest

        return run_backtest(spec, runs_dir, progress)  # type: ignore[return-value]  # RunResult-shaped
    start = time.perf_counter()
    # Every problem validate finds (a missing MLflow too): exit 2, before any folder exists.
    spec, data = check_run(spec)  # the spec as it runs: a problem's task settled
    log.info(
        "data: %d training, %d validation, %d test windows of %d steps x %d inputs (%s)",
        len(data.X_train),
        len(data.X_val),
        len(data.X_test),
        data.lookback,
        data.X_train.shape[2],
        ", ".join(data.input_names),
    )
    state = _Run(spec, data, start)
    # The folder is made once training is about to start (a bad location still fails
    # before any training), so a refused spec leaves none behind.
    state.run_dir = create_run_dir(runs_dir or spec.runs_dir, spec.name)
    write_atomic(state.run_dir / "spec.yaml", spec.to_yaml())
    res = state.fit_and_score(progress)
    state.write_reports(res)
    return res


class _Run:
    """One run as it goes: the scored repeats so far, and the run directory they are saved in."""

    def __init__(self, spec: Spec, data: Any, start: float) -> None:
        from lstmctl.evaluation.ensemble import Members
        from lstmctl.evaluation.evaluate import (
            baseline_forecasts,
            baseline_scores,
            scale_of,
            season_of,
        )
        from lstmctl.report.outputs import RunOutputs
        from lstmctl.serving.generation import RunSamples

        self.spec, self.data, self.start = spec, data, start
        self.baseline_forecasts = baseline_forecasts(spec, data)
        self.baselines = baseline_scores(spec, data, self.baseline_forecasts)
        self.scale = scale_of(spec, data)
        has_series = data.series is not None or data.panel is not None
        self.season = season_of(spec, data) if has_series else None
        self.series_baselines = None
        if data.panel is not None:
            from lstmctl.evaluation.evaluate import baseline_scores_by_series

            self.series_baselines = baseline_scores_by_series(spec, data, self.baseline_forecasts)
        self.members = Members()
        self.rows: list[Any] = []
        self.outputs = RunOutputs(spec, data)
        self.outputs.baselines = self.baseline_forecasts
        self.samples = RunSamples.for_run(spec, data)  # text runs: generate from the best repeat
        self.fits: list[Any] = []  # kept only for evaluate.update, which continues from them
        self.run_dir = Path()

    def result(self, complete: bool) -> RunResult:
        from lstmctl.evaluation.evaluate import summarize_repeats
        from lstmctl.training.fit import trainer_name

        res = RunResult(
            spec=self.spec,
            rows=self.rows,
            baselines=self.baselines,
            summary=summarize_repeats(self.spec, self.rows, self.baselines),
            run_dir=self.run_dir,
            seconds=time.perf_counter() - self.start,
            trainer=trainer_name(self.spec),
            complete=complete,
            n_test=len(self.data.X_test),
            target_names=list(self.data.target_names),
            outputs=self.outputs,
            season=self.season,
        )
        if complete:  # every repeat in: the ensemble (cheap, but not after each repeat)
            from lstmctl.evaluation.ensemble import score_ensemble

            res.ensemble = score_ensemble(
                self.spec,
                self.data,
                self.members,
                self.baseline_forecasts,
                self.baselines,
                [r.scores for r in self.rows if r.error is None],
                self.scale,
            )
        if self.series_baselines is not None:
            self._per_series(res)
        return res

    def _per_series(self, res: RunResult) -> None:
        """A panel's scores by series (its ensemble is scored by series where it is)."""
        from lstmctl.evaluation.per_series import summarize_series

        ok = [r.per_series for r in self.rows if r.error is None and r.per_series is not None]
        res.per_series = summarize_series(self.spec, ok, self.series_baselines or {})
        res.skipped_series = dict(self.data.panel.skipped)

    def save(self, res: RunResult) -> None:
        from lstmctl.rundir import csv_text, write_atomic, write_json

        write_atomic(self.run_dir / "repeats.csv", csv_text([r.row() for r in self.rows]))
        write_json(self.run_dir / "results.json", res.to_json())

    def fit_and_score(self, progress: Progress | None) -> RunResult:
        """Fit and score every repeat, saving as they come; the complete result."""
        from lstmctl.rundir import discard_run_dir
        from lstmctl.training.fit import trainer_name

        spec, rows = self.spec, self.rows
        self.save(self.result(complete=False))
        log.info("run directory %s; trainer %s", self.run_dir, trainer_name(spec))
        try:
            self._repeats(progress)
            self._calibrate(progress)
        except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM under the CLI (lstmctl.signals)
            self.save(self.result(complete=False))
            raise _interrupted(
                e,
                f"after {len(rows)} of {spec.evaluate.repeats} repeats; what finished is in "
                f"{self.run_dir} (marked incomplete)",
            ) from None
        except Exception:
            if not rows:  # failed before any repeat: an empty "incomplete" run is no record
                discard_run_dir(self.run_dir)
            raise
        res = self.result(complete=True)
        self.save(res)
        if rows and not len(res.failed) < len(rows):
            raise RunError(
                f"every repeat failed (first: {res.failed[0].error}); see {self.run_dir}",
                where="run",
            )
        return res

    def _repeats(self, progress: Progress | None) -> None:
        from lstmctl.evaluation.evaluate import score_repeat
        from lstmctl.rundir import write_json
        from lstmctl.training.fit import iter_repeats, trainer_name

        spec, data = self.spec, self.data
        saved_at = time.perf_counter()
        for i, fit in enumerate(iter_repeats(spec, data, progress)):
            self.rows.append(score_repeat(spec, data, i, fit, self.scale))
            if self.rows[-1].error is None:
                self.members.add(data, fit)
            self.outputs.add(self.rows[-1], fit)
            if self.samples is not None:
                self.samples.add(self.rows[-1], fit)
            if spec.evaluate.update is not None:
                self.fits.append(fit)
            if progress is not None and trainer_name(spec) == "keras":
                progress(i, spec.train.epochs, spec.train.epochs)  # early stopping ends sooner
            write_json(self.run_dir / "history" / f"repeat-{i + 1:02d}.json", fit.history)
            if time.perf_counter() - saved_at >= SAVE_EVERY:
                self.save(self.result(complete=False))
                saved_at = time.perf_counter()

    def _calibrate(self, progress: Progress | None) -> None:
        """Forecasts of windows no repeat trained on, for the intervals' calibration.

        With a validation part the repeats made them already. Without one, the
        repeats are fitted again (one more fused fit) with the last
        ``split.test`` rows of the training part held out; their normalized
        errors there calibrate the spread of the repeats scored on the test part,
        whose point scores stay those of a run without intervals.
        """
        spec = self.spec
        if not spec.evaluate.intervals or self.members.val or not len(self.members):
            return
        from lstmctl.evaluation.preflight import prepare_run
        from lstmctl.spec.derive import for_intervals
        from lstmctl.training.fit import iter_repeats

        calibrating, data = prepare_run(for_intervals(spec))
        log.info(
            "intervals: fitting the %d repeats again with %d windows held out to calibrate on",
            spec.evaluate.repeats,
            len(data.X_val),
        )
        for fit in iter_repeats(calibrating, data, progress):
            self.members.add_calibration(data, fit)

    def write_reports(self, res: RunResult) -> None:
        """The update experiment, samples, forecasts, plots, report.html and tracking."""
        from lstmctl.report.tracking import track_run

        spec = self.spec
        try:
            if spec.evaluate.update is not None:
                from lstmctl.evaluation.updating import evaluate_updates

                log.info("update experiment: schemes %s", ", ".join(spec.evaluate.update.schemes))
                res.updating = evaluate_updates(spec, self.data, self.fits)
                self.save(res)
            if self.samples is not None:
                res.samples = self.samples.write(self.run_dir)  # samples.txt
                self.save(res)
            self.outputs.write(res)  # forecasts.csv, the plots and report.html
            track_run(res)  # MLflow, when the spec asks for it
        except KeyboardInterrupt as e:
            res.complete = False  # every repeat is scored; the reports after them are not all
            self.save(res)
            raise _interrupted(
                e,
                f"after all {len(self.rows)} repeats, while writing the reports; the scores "
                f"are in {self.run_dir} (marked incomplete)",
            ) from None


def _interrupted(e: BaseException, what: str) -> Interrupted:
    from lstmctl.signals import interrupted, signum_of

    return Interrupted(f"{interrupted(signum_of(e))} {what}", where="run", signum=signum_of(e))
