"""``compare:`` — run variants of one spec and set their skill side by side.

A spec may list variants, each a ``--set`` style override or a list of them::

    compare:
      - model.direction=forward
      - model.direction=backward
      - [model.direction=both, model.merge_mode=sum]

Each variant is the spec with its overrides applied, validated like any
spec and run like ``lstmctl run`` (its own repeats, baselines and run
directory, inside the comparison's directory), so the variants differ in
exactly what they say and nothing else. Every variant is validated before
the first one trains, so a typo in the last fails fast.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmctl import __version__
from lstmctl.errors import DataError, Interrupted, RunError, SpecError
from lstmctl.spec import Spec

log = logging.getLogger("lstmctl")

# A context manager per variant that yields the progress callback for api.run.
ProgressFor = Callable[[Spec], AbstractContextManager[Any]]


@dataclass
class Variant:
    """One variant: its overrides, its validated spec and, once run, its result."""

    label: str
    overrides: list[str]
    spec: Spec
    result: Any = None  # api.RunResult
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"variant": self.label, "overrides": self.overrides}
        if self.result is None:
            return {**out, "error": self.error or "not run"}
        res = self.result.to_json()
        metrics = {
            m: {k: v for k, v in s.items() if k != "values"} for m, s in res["metrics"].items()
        }
        return {
            **out,
            "arch": res["arch"],
            "repeats": res["repeats"],
            "metrics": metrics,
            "baselines": res["baselines"],
            "run_dir": res["run_dir"],
            "seconds": res["seconds"],
            "error": self.error,
        }


@dataclass
class CompareResult:
    """The variants of one spec, run one after the other."""

    spec: Spec
    variants: list[Variant]
    run_dir: Path
    seconds: float = 0.0
    complete: bool = False
    metrics: list[str] = field(default_factory=list)

    def best(self) -> dict[str, str]:
        """For every metric, the variant with the best mean (lower error, higher accuracy)."""
        from lstmctl.spec.vocabulary import LOWER_IS_BETTER

        out: dict[str, str] = {}
        for m in self.metrics:
            scored = [
                (float(v.result.summary.metrics[m]["mean"]), v.label)
                for v in self.variants
                if v.result is not None and m in v.result.summary.metrics
            ]
            scored = [(s, label) for s, label in scored if s == s]  # drop NaN
            if scored:
                pick = min if LOWER_IS_BETTER[m] else max
                out[m] = pick(scored)[1]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "compare": [v.label for v in self.variants],
            "metrics": self.metrics,
            "variants": [v.to_json() for v in self.variants],
            "best": self.best(),
            "complete": self.complete,
            "run_dir": str(self.run_dir),
            "seconds": round(self.seconds, 3),
            "lstmctl": __version__,
        }


def variants(spec: Spec) -> list[Variant]:
    """The spec's ``compare:`` entries as validated variant specs (see ``compare_variants``)."""
    from lstmctl.spec.derive import compare_variants
    from lstmctl.spec.tune_space import check_space

    out = []
    for i, (label, overrides, variant) in enumerate(compare_variants(spec)):
        if variant.tune is not None:
            check_space(variant, f"compare[{i}]")  # validated as any spec is
        out.append(Variant(label, overrides, variant))
    return out


def check_variants(todo: list[Variant]) -> None:
    """Raise what ``run`` would refuse in any variant (its data prepared), before any trains.

    The error is the variant's own, its key prefixed with ``compare[i]``.
    """
    from lstmctl.evaluation.preflight import check_run

    first = todo[0].spec.backend if todo else None
    for i, v in enumerate(todo):
        if v.spec.backend != first:
            # Keras keeps the backend it was first imported with, for the whole process.
            raise SpecError(
                f"the variants run one after another in one process, where Keras keeps its "
                f"first backend: found backend {v.spec.backend} after {first}; compare "
                "backends in separate runs",
                where=f"compare[{i}]: backend",
            )
        try:
            v.spec = check_run(v.spec).spec  # as it runs: a problem's task settled
        except (SpecError, DataError) as e:
            where = f"compare[{i}]: {e.where}" if e.where else f"compare[{i}]"
            raise type(e)(e.message, where=where) from None


def run_compare(
    spec: Spec,
    runs_dir: str | Path | None = None,
    progress_for: ProgressFor | None = None,
) -> CompareResult:
    """Run every variant of ``spec.compare`` and collect their results side by side."""
    from lstmctl.rundir import create_run_dir, discard_run_dir, write_json
    from lstmctl.workflows.run import run

    if not spec.compare:
        raise SpecError("expected a list of variants to compare, found none", where="compare")
    todo = variants(spec)
    check_variants(todo)  # a bad variant fails before the first one trains
    start = time.perf_counter()
    root = create_run_dir(runs_dir or spec.runs_dir, spec.name)
    (root / "history").rmdir()  # the variants keep their own histories
    result = CompareResult(spec=spec, variants=todo, run_dir=root)

    def save() -> None:
        result.seconds = time.perf_counter() - start
        result.metrics = _metrics(todo)
        write_json(root / "compare.json", result.to_json())

    for v in todo:
        log.info("variant %s", v.label)
        try:
            if progress_for is None:
                v.result = run(v.spec, runs_dir=root)
            else:
                with progress_for(v.spec) as progress:
                    v.result = run(v.spec, runs_dir=root, progress=progress)
        except RunError as e:
            v.error = str(e)  # the others still run: a comparison shows failures too
        except Interrupted as e:
            save()
            raise Interrupted(
                f"interrupted during variant {v.label!r} ({e.message}); "
                f"the finished variants are in {root}",
                where="compare",
            ) from None
        except Exception:
            discard_run_dir(root, written=())  # only while no variant has left anything
            raise
        save()
    result.complete = True
    save()
    if all(v.result is None for v in todo):
        raise RunError(f"every variant failed (first: {todo[0].error}); see {root}", "compare")
    return result


def _metrics(done: list[Variant]) -> list[str]:
    names: list[str] = []
    for v in done:
        if v.result is not None:
            names += [m for m in v.result.summary.metrics if m not in names]
    return names
