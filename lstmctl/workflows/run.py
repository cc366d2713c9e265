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

from lstmctl import __version__
from lstmctl.errors import Interrupted, RunError
from lstmctl.spec import Spec, load_spec

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

    @property
    def failed(self) -> list[Any]:
        return [r for r in self.rows if r.error is not None]

    def to_json(self) -> dict[str, Any]:
        """The results shape documented in DESIGN.md (plus a few extra keys)."""
        return {
            "name": self.spec.name,
            "arch": self.spec.model.arch,
            "repeats": len(self.rows) - len(self.failed),
            "repeats_requested": self.spec.evaluate.repeats,
            "metrics": self.summary.metrics,
            "baselines": self.baselines,
            "skill": self.summary.skill,
            "per_repeat": [r.row() for r in self.rows],
            "failed": [{"repeat": r.repeat, "error": r.error} for r in self.failed],
            "targets": self.target_names,
            "test_windows": self.n_test,
            "trainer": self.trainer,
            "complete": self.complete,
            "run_dir": str(self.run_dir),
            "seconds": round(self.seconds, 3),
            "lstmctl": __version__,
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
        from lstmctl.evaluation.evaluate import baseline_scores
        from lstmctl.report.outputs import RunOutputs
        from lstmctl.serving.generation import RunSamples

        self.spec, self.data, self.start = spec, data, start
        self.baselines = baseline_scores(spec, data)
        self.rows: list[Any] = []
        self.outputs = RunOutputs(spec, data)
        self.samples = RunSamples.for_run(spec, data)  # text runs: generate from the best repeat
        self.fits: list[Any] = []  # kept only for evaluate.update, which continues from them
        self.run_dir = Path()

    def result(self, complete: bool) -> RunResult:
        from lstmctl.evaluation.evaluate import summarize_repeats
        from lstmctl.training.fit import trainer_name

        return RunResult(
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
        )

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
            self.rows.append(score_repeat(spec, data, i, fit))
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
