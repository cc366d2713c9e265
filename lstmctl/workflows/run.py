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
    from lstmctl.evaluation.evaluate import (
        baseline_scores,
        score_repeat,
        summarize_repeats,
    )
    from lstmctl.evaluation.preflight import check_run
    from lstmctl.report.outputs import RunOutputs
    from lstmctl.report.tracking import track_run
    from lstmctl.rundir import create_run_dir, csv_text, discard_run_dir, write_atomic, write_json
    from lstmctl.serving.generation import RunSamples
    from lstmctl.signals import interrupted, signum_of
    from lstmctl.training.fit import iter_repeats, trainer_name

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
    baselines = baseline_scores(spec, data)
    rows: list[Any] = []
    outputs = RunOutputs(spec, data)
    samples = RunSamples.for_run(spec, data)  # text runs: generate from the best repeat
    fits: list[Any] = []  # kept only for evaluate.update, which continues from them
    # The folder is made once training is about to start (a bad location still fails
    # before any training), so a refused spec leaves none behind.
    run_dir = create_run_dir(runs_dir or spec.runs_dir, spec.name)
    write_atomic(run_dir / "spec.yaml", spec.to_yaml())

    def result(complete: bool) -> RunResult:
        return RunResult(
            spec=spec,
            rows=rows,
            baselines=baselines,
            summary=summarize_repeats(spec, rows, baselines),
            run_dir=run_dir,
            seconds=time.perf_counter() - start,
            trainer=trainer_name(spec),
            complete=complete,
            n_test=len(data.X_test),
            target_names=list(data.target_names),
            outputs=outputs,
        )

    def save(res: RunResult) -> None:
        write_atomic(run_dir / "repeats.csv", csv_text([r.row() for r in rows]))
        write_json(run_dir / "results.json", res.to_json())

    save(result(complete=False))
    saved_at = time.perf_counter()
    log.info("run directory %s; trainer %s", run_dir, trainer_name(spec))
    try:
        for i, fit in enumerate(iter_repeats(spec, data, progress)):
            rows.append(score_repeat(spec, data, i, fit))
            outputs.add(rows[-1], fit)
            if samples is not None:
                samples.add(rows[-1], fit)
            if spec.evaluate.update is not None:
                fits.append(fit)
            if progress is not None and trainer_name(spec) == "keras":
                progress(i, spec.train.epochs, spec.train.epochs)  # early stopping ends sooner
            write_json(run_dir / "history" / f"repeat-{i + 1:02d}.json", fit.history)
            if time.perf_counter() - saved_at >= SAVE_EVERY:
                save(result(complete=False))
                saved_at = time.perf_counter()
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM under the CLI (lstmctl.signals)
        save(result(complete=False))
        raise Interrupted(
            f"{interrupted(signum_of(e))} after {len(rows)} of {spec.evaluate.repeats} "
            f"repeats; what finished is in {run_dir} (marked incomplete)",
            where="run",
            signum=signum_of(e),
        ) from None
    except Exception:
        if not rows:  # failed before any repeat: an empty "incomplete" run is no record
            discard_run_dir(run_dir)
        raise
    res = result(complete=True)
    save(res)
    if rows and not len(res.failed) < len(rows):
        raise RunError(
            f"every repeat failed (first: {res.failed[0].error}); see {run_dir}", where="run"
        )
    try:
        if spec.evaluate.update is not None:
            from lstmctl.evaluation.updating import evaluate_updates

            log.info("update experiment: schemes %s", ", ".join(spec.evaluate.update.schemes))
            res.updating = evaluate_updates(spec, data, fits)
            save(res)
        if samples is not None:
            res.samples = samples.write(run_dir)  # samples.txt
            save(res)
        outputs.write(res)  # forecasts.csv, the plots and report.html
        track_run(res)  # MLflow, when the spec asks for it
    except KeyboardInterrupt as e:
        res.complete = False  # every repeat is scored; the reports after them are not all there
        save(res)
        raise Interrupted(
            f"{interrupted(signum_of(e))} after all {len(rows)} repeats, while writing the "
            f"reports; the scores are in {run_dir} (marked incomplete)",
            where="run",
            signum=signum_of(e),
        ) from None
    return res
