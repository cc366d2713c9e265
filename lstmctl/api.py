"""The library behind the commands: each function chains the stages.

``lstmctl.run(spec)`` is what ``lstmctl run SPEC`` does, usable from Python.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lstmctl.spec import Spec, load_spec
from lstmctl.workflows.run import RunResult

log = logging.getLogger("lstmctl")

__all__ = [
    "RunResult",
    "diagnose",
    "finalize",
    "generate",
    "predict",
    "run",
    "run_compare",
    "tune",
    "update",
    "validate",
]


def run(
    spec: Spec | str | Path,
    overrides: list[str] | None = None,
    runs_dir: str | Path | None = None,
    progress: Any = None,
) -> RunResult:
    """Prepare the data, fit R repeats, score each walk-forward against the baseline."""
    from lstmctl.workflows.run import run as run_workflow

    return run_workflow(spec, overrides, runs_dir, progress)


def run_compare(spec: Spec, runs_dir: str | Path | None = None, progress: Any = None) -> Any:
    """Run a ``compare:`` spec's variants side by side (a CompareResult)."""
    from lstmctl.workflows.compare import run_compare as compare_workflow

    return compare_workflow(spec, runs_dir, progress)


def diagnose(*args: Any, **kwargs: Any) -> Any:
    """Learning curves of the spec's repeats and a verdict (see workflows.diagnose)."""
    from lstmctl.workflows.diagnose import diagnose as diagnose_workflow

    return diagnose_workflow(*args, **kwargs)


def finalize(*args: Any, **kwargs: Any) -> Any:
    """Fit on all the data and save a model directory (see workflows.lifecycle)."""
    from lstmctl.workflows.lifecycle import finalize as finalize_workflow

    return finalize_workflow(*args, **kwargs)


def update(*args: Any, **kwargs: Any) -> Any:
    """Continue training a saved model with new observations (see workflows.lifecycle)."""
    from lstmctl.workflows.lifecycle import update as update_workflow

    return update_workflow(*args, **kwargs)


def generate(*args: Any, **kwargs: Any) -> Any:
    """Sample text from a saved generative model (see workflows.lifecycle)."""
    from lstmctl.workflows.lifecycle import generate as generate_workflow

    return generate_workflow(*args, **kwargs)


def predict(*args: Any, **kwargs: Any) -> Any:
    """Forecasts from a model directory, without TensorFlow (see serving.predict)."""
    from lstmctl.serving.predict import predict as predict_rows

    return predict_rows(*args, **kwargs)


def validate(spec: Spec | str | Path, overrides: list[str] | None = None) -> Spec:
    """Check a spec, its architecture and its data (loaded and prepared), without training.

    Whatever ``run`` would refuse before its first repeat is found here
    (:mod:`lstmctl.evaluation.preflight`): in every variant of a ``compare:`` spec (the
    variants are what runs), and in every choice of a ``tune:`` search space.
    Raises the typed error (SpecError, DataError, ...) of the first problem;
    returns the validated spec.
    """
    from lstmctl.evaluation.preflight import check_run

    s = spec if isinstance(spec, Spec) else load_spec(spec, overrides or [])
    if s.compare:  # each variant: its overrides, architecture and data
        from lstmctl.workflows.compare import check_variants, variants

        check_variants(variants(s))
    else:
        s = check_run(s).spec  # a problem's task settled, as run runs it
    if s.tune is not None:
        from lstmctl.tuning.choices import check_choices

        check_choices(s)
    return s


def tune(
    spec: Spec | str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    resume: str | Path | None = None,
    storage: str | None = None,
    study: str | None = None,
    workers: int = 1,
    runs_dir: str | Path | None = None,
    plot: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Any:
    """Search the spec's ``tune.space``; every trial is scored over repeats (a TuneResult).

    ``resume`` continues the study of a tune run directory; ``storage`` (a
    database URL) and ``study`` let many workers share one study.
    """
    from lstmctl.errors import UsageError
    from lstmctl.targets import check_plot_target
    from lstmctl.tuning.storage import fingerprint
    from lstmctl.tuning.study import read_run_dir, run_study

    if plot is not None:
        plot = check_plot_target(plot)  # before the study, not after it
    given = spec if isinstance(spec, Spec) or spec is None else load_spec(spec, overrides or [])
    meta = None
    if resume is not None:
        saved, meta = read_run_dir(Path(resume), overrides or [])
        if given is not None and fingerprint(given) != fingerprint(saved):
            raise UsageError(
                f"the spec differs from the study's ({Path(resume) / 'spec.yaml'}); "
                "resume without SPEC, or start a new study",
                where="--resume",
            )
        given = saved
    if given is None:
        raise UsageError("give a SPEC, or --resume RUN_DIR", where="tune")
    return run_study(
        given,
        resume=None if resume is None else Path(resume),
        meta=meta,
        storage=storage,
        study=study,
        workers=workers,
        runs_dir=runs_dir,
        plot=None if plot is None else Path(plot),
        progress=progress,
    )
