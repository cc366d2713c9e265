"""The library behind the commands: each function chains the stages.

``lstmctl.run(spec)`` is what ``lstmctl run SPEC`` does, usable from Python.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmctl.spec import Spec, load_spec
from lstmctl.workflows.run import RunResult

if TYPE_CHECKING:
    from lstmctl.errors import DataError
    from lstmctl.history.compare import Comparison
    from lstmctl.history.record import RunRecord
    from lstmctl.serving.forecast import Forecast
    from lstmctl.workflows.compare import CompareResult
    from lstmctl.workflows.diagnose import Diagnosis
    from lstmctl.workflows.modelfiles import SavedModel

log = logging.getLogger("lstmctl")

__all__ = [
    "RunResult",
    "catalog",
    "compare_runs",
    "diagnose",
    "diagnosis_repeats",
    "finalize",
    "find_runs",
    "generate",
    "plot_comparison",
    "predict",
    "read_input",
    "resolve_spec",
    "run",
    "run_compare",
    "show_run",
    "starter_spec",
    "tune",
    "update",
    "validate",
]


def resolve_spec(
    spec: str | Path, overrides: list[str] | None = None, *, mlflow: bool = False
) -> Spec:
    """Read and validate a YAML spec with its ``key.path=value`` overrides, defaults filled in.

    ``mlflow`` turns on tracking to MLflow (``tracking.mlflow``, default mlruns/).
    """
    s = load_spec(spec, overrides or [])
    if mlflow:
        from lstmctl.report.tracking import with_mlflow

        s = with_mlflow(s)
    return s


def run(
    spec: Spec | str | Path,
    overrides: list[str] | None = None,
    runs_dir: str | Path | None = None,
    progress: Any = None,
) -> RunResult:
    """Prepare the data, fit R repeats, score each walk-forward against the baseline."""
    from lstmctl.workflows.run import run as run_workflow

    return run_workflow(spec, overrides, runs_dir, progress)


def run_compare(
    spec: Spec,
    runs_dir: str | Path | None = None,
    progress: Callable[[Spec], AbstractContextManager[Any]] | None = None,
) -> CompareResult:
    """Run a ``compare:`` spec's variants side by side; ``progress(variant)`` gives each a bar."""
    from lstmctl.workflows.compare import run_compare as compare_workflow

    return compare_workflow(spec, runs_dir, progress)


def diagnosis_repeats(spec: Spec, repeats: int | None = None) -> int:
    """How many repeats ``diagnose`` fits (``repeats``, else the spec's, at most a few)."""
    from lstmctl.spec.derive import diagnosis_repeats as how_many

    return how_many(spec, repeats)


def diagnose(
    spec: Spec | str | Path,
    overrides: list[str] | None = None,
    runs_dir: str | Path | None = None,
    repeats: int | None = None,
    validation: float | None = None,
    progress: Any = None,
) -> Diagnosis:
    """Learning curves of the spec's repeats and a verdict: under-fit, good fit or over-fit."""
    from lstmctl.workflows.diagnose import diagnose as diagnose_workflow

    return diagnose_workflow(
        spec, overrides, runs_dir, repeats=repeats, validation=validation, progress=progress
    )


def finalize(
    spec: Spec | str | Path,
    out: str | Path,
    overrides: list[str] | None = None,
    force: bool = False,
    onnx: bool = True,
    progress: Any = None,
    members: int = 10,
) -> SavedModel:
    """Fit ``members`` models on all the data and save a model directory (see
    workflows.finalize; 10 as the command: workflows.finalize.DEFAULT_MEMBERS)."""
    from lstmctl.workflows.finalize import finalize as finalize_workflow

    return finalize_workflow(
        spec, out, overrides, force=force, onnx=onnx, progress=progress, members=members
    )


def update(
    model: str | Path,
    data: str | Path | None = None,
    scheme: str = "fine-tune",
    epochs: int | None = None,
    out: str | Path | None = None,
    in_place: bool = False,
    force: bool = False,
    onnx: bool = True,
    text: str | None = None,
    progress: Any = None,
) -> SavedModel:
    """Continue training a saved model with new rows (``data``: a CSV file; or ``text``)."""
    from lstmctl.workflows.update import update as update_workflow

    return update_workflow(
        model,
        data,
        scheme=scheme,
        epochs=epochs,
        out=out,
        in_place=in_place,
        force=force,
        onnx=onnx,
        text=text,
        progress=progress,
    )


def generate(
    model_dir: str | Path,
    prompt: str = "",
    length: int = 200,
    temperature: float = 1.0,
    seed: int | None = None,
) -> Iterator[str]:
    """Sample text from a saved generative model, piece by piece (see workflows.generate)."""
    from lstmctl.workflows.generate import generate as generate_workflow

    return generate_workflow(model_dir, prompt, length, temperature, seed)


def read_input(path: str | Path, option: str = "--input") -> str:
    """The text of a file of rows for ``predict`` (UTF-8; a byte-order mark is allowed;
    a pipe is read once); ``option`` (--input, --future) names it in errors."""
    from lstmctl.serving.rows import read_input as read_text

    return read_text(path, option)


def predict(
    model: str | Path,
    text: str | None = None,
    horizon: int | None = None,
    engine: str = "auto",
    history: bool = True,
    intervals: Sequence[float] = (),
    members: bool = False,
    series: Sequence[str] | None = None,
    future: str | None = None,
) -> Forecast:
    """Forecasts from a model directory, without TensorFlow (see serving.predict);
    ``intervals``: levels of an ensemble's intervals, ``members``: each member's forecast;
    a panel's: ``series`` (ids to forecast), ``future`` (CSV text of known covariates)."""
    from lstmctl.serving.predict import predict as predict_rows

    return predict_rows(
        model,
        text,
        horizon=horizon,
        engine=engine,
        history=history,
        intervals=intervals,
        members=members,
        series=series,
        future=future,
    )


def catalog(what: str | None = None) -> dict[str, dict[str, str]]:
    """Architectures, problems and metrics with one-line descriptions (or one section)."""
    from lstmctl.workflows import catalog as listing

    return listing.catalog(what)


def starter_spec(arch: str) -> str:
    """A commented starter spec (YAML) for an architecture."""
    from lstmctl.workflows.starter import starter_spec as starter

    return starter(arch)


def find_runs(
    root: str | Path = "runs",
    name: str | None = None,
    on_damaged: Callable[[DataError], None] | None = None,
) -> list[RunRecord]:
    """Past runs under ``root``, newest first (``name``: one spec's); damaged ones skipped."""
    from lstmctl.history.runs import find_runs as find

    return find(root, name, on_damaged)


def show_run(ref: str | Path, root: str | Path = "runs") -> RunRecord:
    """One past run: a run directory, its folder name under ``root``, or a spec name (latest)."""
    from lstmctl.history.runs import load_run, resolve_run

    return load_run(resolve_run(ref, root))


def compare_runs(
    ref_a: str | Path,
    ref_b: str | Path,
    root: str | Path = "runs",
    alpha: float = 0.05,
    test: str = "welch",
    plot: str | Path | None = None,
) -> Comparison:
    """Two past runs metric by metric: B's mean minus A's, and whether it is significant.

    ``plot`` (a PNG file, written by :func:`plot_comparison`) is checked first.
    """
    from lstmctl.history.compare import compare_runs as compare
    from lstmctl.history.runs import load_run, resolve_run

    if plot is not None:
        from lstmctl.targets import check_plot_target

        check_plot_target(plot)  # before any work: a bad target prints nothing
    a = load_run(resolve_run(ref_a, root))
    b = load_run(resolve_run(ref_b, root))
    return compare(a, b, alpha=alpha, test=test)


def plot_comparison(cmp: Comparison, path: str | Path) -> Path:
    """Box plots of both runs' scores (PNG), one panel per metric; returns the file."""
    from lstmctl.history.compare import plot_comparison as plot

    return plot(cmp, Path(path))


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
    elif s.evaluate.backtest is not None:  # the folds fit the data, F x R fits fit memory
        from lstmctl.workflows.backtest import prepare_backtest

        s = prepare_backtest(s)[0]
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
