"""Run history: list, show and compare the run directories under a runs folder.

Everything is read back from the files a run wrote (``results.json``,
``spec.yaml``), so history survives upgrades and works on folders copied
from another machine. Two runs are compared metric by metric over their
repeats, with Welch's t-test (unequal variances) and the Mann-Whitney U test
(no normality assumed): LSTM skill is a distribution, and a difference of
means is only news when it stands out of the repeats' spread.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from lstmctl.errors import DataError, UsageError
from lstmctl.rundir import run_started
from lstmctl.spec.vocabulary import LOWER_IS_BETTER

log = logging.getLogger("lstmctl")

# create_run_dir names folders NAME-YYYYmmdd-HHMMSS, with -N when two start in one second.

Test = Literal["welch", "mannwhitney"]
TESTS: tuple[str, ...] = ("welch", "mannwhitney")


@dataclass
class RunRecord:
    """One run directory, read back."""

    path: Path
    results: dict[str, Any]
    spec: dict[str, Any] = field(default_factory=dict)
    started: datetime | None = None

    @property
    def name(self) -> str:
        return str(self.results.get("name") or self.spec.get("name") or self.path.name)

    @property
    def kind(self) -> str:
        """``run`` (repeats of one spec) or ``tune`` (a study: trials, each over repeats)."""
        return "tune" if isinstance(self.results.get("trials"), list) else "run"

    @property
    def arch(self) -> str:
        best_spec = (self.best or {}).get("spec") or {}
        return str(
            self.results.get("arch")
            or (best_spec.get("model") or {}).get("arch")
            or (self.spec.get("model") or {}).get("arch", "?")
        )

    @property
    def trials(self) -> list[dict[str, Any]]:
        """A study's trials, best first (empty for a run)."""
        return list(self.results.get("trials") or [])

    @property
    def best(self) -> dict[str, Any] | None:
        """A study's best trial as results.json has it (None: a run, or no trial completed)."""
        best = self.results.get("best")
        return best if isinstance(best, dict) else None

    @property
    def objective(self) -> str | None:
        """A study's objective metric."""
        metric = (self.results.get("objective") or {}).get("metric")
        return str(metric) if metric else None

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Each metric's summary over the repeats; of a study, those of its best trial."""
        if self.kind == "run":
            return dict(self.results.get("metrics") or {})
        best = self.best
        trial = next((t for t in self.trials if best and t.get("trial") == best.get("trial")), {})
        scores: dict[str, Any] = dict(trial.get("scores") or {})
        if not scores and best:
            scores = {m: s.get("values") or [] for m, s in (best.get("metrics") or {}).items()}
        order = sorted(scores, key=lambda m: m != self.objective)  # the objective first
        return {m: _summary(scores[m]) for m in order if isinstance(scores[m], list)}

    @property
    def key_metric(self) -> str | None:
        """The spec's first metric (the one its summary leads with); a study's objective."""
        return next(iter(self.metrics), None) or self.objective

    @property
    def failed(self) -> int:
        """Failed repeats; of a study, failed trials."""
        if self.kind == "tune":
            return sum(1 for t in self.trials if t.get("state") == "failed")
        return len(self.results.get("failed") or [])

    @property
    def state(self) -> str:
        """complete, incomplete (interrupted or still running) or failed (no repeat finished,
        or every trial of a study failed)."""
        if self.kind == "tune":
            nothing = bool(self.trials) and self.failed == len(self.trials)
        else:
            nothing = int(self.results.get("repeats") or 0) == 0 and self.failed > 0
        if nothing:
            return "failed"
        if not self.results.get("complete"):
            return "incomplete"
        return f"complete ({self.failed} failed)" if self.failed else "complete"

    @property
    def repeats(self) -> int:
        """Repeats that finished; of a study, those of its best trial."""
        if self.kind == "tune":
            return len(self.values(self.objective or ""))
        return int(self.results.get("repeats") or 0)

    def rows(self) -> list[dict[str, Any]]:
        """The CSV of ``runs show``: one row per repeat; of a study, one per trial."""
        if self.kind == "run":
            return list(self.results.get("per_repeat") or [])
        metric = self.objective or "objective"
        rows = []
        for t in self.trials:
            summary = ((t.get("metrics") or {}).get(metric)) or {}
            row: dict[str, Any] = {"trial": t.get("trial"), "state": t.get("state")}
            row.update({k: _plain(v) for k, v in (t.get("params") or {}).items()})
            row.update({f"{metric}_{k}": _float(summary.get(k)) for k in _STATS})
            row.update({k: t.get(k) for k in ("repeats", "seconds", "note")})
            rows.append(row)
        keys = list(dict.fromkeys(k for row in rows for k in row))  # trials may differ in params
        return [{k: row.get(k) for k in keys} for row in rows]

    def values(self, metric: str) -> list[float]:
        """The metric's finite per-repeat values (failed repeats left out)."""
        raw = (self.metrics.get(metric) or {}).get("values") or []
        return [float(v) for v in raw if v is not None and math.isfinite(float(v))]

    def row(self, metric: str | None = None) -> dict[str, Any]:
        """The ``runs list`` row: name, date, arch, a metric's mean ± std, duration, state."""
        metric = metric or self.key_metric
        s = self.metrics.get(metric or "", {})
        return {
            "run": self.path.name,
            "name": self.name,
            "started": self.started.isoformat(sep=" ") if self.started else "",
            "arch": self.arch,
            "metric": metric or "",
            "mean": _float(s.get("mean")),
            "std": _float(s.get("std")),
            "kind": self.kind,
            "repeats": self.repeats,
            "trials": len(self.trials) if self.kind == "tune" else None,
            "seconds": _float(self.results.get("seconds")),
            "state": self.state,
            "path": str(self.path),
        }

    def to_json(self) -> dict[str, Any]:
        """results.json plus where the run is, when it started and what files it has."""
        return {
            **self.results,
            "kind": self.kind,
            "run_dir": str(self.path),
            "started": self.started.isoformat(sep=" ") if self.started else None,
            "state": self.state,
            "files": self.files(),
        }

    def files(self) -> list[str]:
        """The run's files; JAX's compile cache (hundreds of programs) as one ``jax-cache/``."""
        out = set()
        for p in self.path.rglob("*"):
            rel = p.relative_to(self.path)
            if rel.parts[0] == "jax-cache":
                out.add("jax-cache/")
            elif p.is_file() and not p.name.startswith("."):
                out.add(str(rel))
        return sorted(out)


_STATS = ("mean", "std", "min", "median", "max")


def _summary(values: list[Any]) -> dict[str, Any]:
    """mean, std, min, median, max of the finite values; None where there are none."""
    v = np.asarray([x for x in (_float(x) for x in values) if x is not None], dtype=float)
    stats: dict[str, Any] = dict.fromkeys(_STATS)
    if v.size:
        stats.update(
            mean=float(v.mean()),
            std=float(v.std(ddof=1)) if v.size > 1 else 0.0,
            min=float(v.min()),
            median=float(np.median(v)),
            max=float(v.max()),
        )
    return {**stats, "values": list(values)}


def _plain(v: Any) -> Any:
    """A trial's parameter as one CSV cell (a list or mapping as inline JSON)."""
    return v if isinstance(v, str | int | float | bool) or v is None else json.dumps(v)


def _float(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def load_run(path: str | Path) -> RunRecord:
    """Read one run directory (UsageError when it is none, DataError when it is damaged)."""
    path = Path(path)
    results_path = path / "results.json"
    if not results_path.is_file():
        raise UsageError(
            "expected a run directory with results.json, found "
            + ("a folder without one" if path.is_dir() else "nothing there"),
            where=str(path),
        )
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(
            f"expected results JSON, found unreadable content ({e})", where=str(results_path)
        ) from None
    if not isinstance(results, dict):
        raise DataError("expected a JSON object of results", where=str(results_path))
    _check_shape(results, str(results_path))
    spec: dict[str, Any] = {}
    try:
        loaded = yaml.safe_load((path / "spec.yaml").read_text(encoding="utf-8"))
        spec = loaded if isinstance(loaded, dict) else {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        pass  # the scores are what history needs; a missing spec only loses the arch fallback
    return RunRecord(path=path, results=results, spec=spec, started=run_started(path))


# The keys of results.json whose type the views rely on (a hand-edited or foreign
# file must fail here, naming the key, not deep inside a table).
_SHAPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "arch": (str,),
    "per_repeat": (list,),
    "failed": (list,),
    "metrics": (dict,),
    "baselines": (dict,),
    "skill": (dict,),
    "targets": (list,),
    "repeats": (int,),
    "repeats_requested": (int,),
    "test_windows": (int,),
    "complete": (bool,),
    "seconds": (int, float),
    "trainer": (str,),
    # A tune study's results.json (lstmctl.tuning.results).
    "study": (str,),
    "trials": (list,),
    "best": (dict,),
    "objective": (dict,),
}


def _check_shape(results: dict[str, Any], where: str) -> None:
    for key, kinds in _SHAPES.items():
        value = results.get(key)
        if value is not None and not isinstance(value, kinds):
            raise DataError(
                f"expected {key} to be {' or '.join(k.__name__ for k in kinds)}, found "
                f"{type(value).__name__} {json.dumps(value)[:40]}",
                where=where,
            )
    for key in ("per_repeat", "failed", "trials"):
        bad = [type(v).__name__ for v in results.get(key) or [] if not isinstance(v, dict)]
        if bad:
            raise DataError(f"expected {key} to hold objects, found a {bad[0]}", where=where)
    for key in ("metrics", "baselines", "skill"):
        bad = [k for k, v in (results.get(key) or {}).items() if not isinstance(v, dict)]
        if bad:
            raise DataError(f"expected {key}.{bad[0]} to be an object", where=where)


def find_runs(
    root: str | Path = "runs",
    name: str | None = None,
    on_damaged: Callable[[DataError], None] | None = None,
) -> list[RunRecord]:
    """Every readable run under ``root``, newest first; ``name`` keeps one spec's runs.

    A damaged run is skipped and handed to ``on_damaged`` (default: a logged warning).
    """
    root = Path(root)
    if not root.exists():
        return []
    if not root.is_dir():
        raise UsageError("expected a folder of run directories, found a file", where=str(root))
    records = []
    for d in root.iterdir():
        if not (d / "results.json").is_file():
            continue  # not a run, or one whose first results are not written yet
        try:
            rec = load_run(d)
        except DataError as e:
            # One damaged run does not hide the others; it is named, not skipped silently.
            if on_damaged is not None:
                on_damaged(e)
            else:
                log.warning("skipped a damaged run: %s", e)
            continue
        if name is None or rec.name == name:
            records.append(rec)
    records.sort(key=lambda r: (r.started or datetime.min, r.path.name), reverse=True)
    return records


def resolve_run(ref: str | Path, root: str | Path = "runs") -> Path:
    """A run directory from a path, a folder name under ``root``, a spec name (its latest
    run) or a unique prefix of a folder name."""
    p = Path(ref)
    if (p / "results.json").is_file():
        return p
    root = Path(root)
    if (root / p / "results.json").is_file():
        return root / p
    runs = find_runs(root)
    text = str(ref)
    by_name = [r for r in runs if r.name == text]
    if by_name:
        return by_name[0].path  # newest first
    by_prefix = [r for r in runs if r.path.name.startswith(text)]
    if len(by_prefix) == 1:
        return by_prefix[0].path
    if len(by_prefix) > 1:
        names = ", ".join(r.path.name for r in by_prefix[:5])
        raise UsageError(f"expected one run, found {len(by_prefix)} matching: {names}", text)
    known = ", ".join(dict.fromkeys(r.name for r in runs)) or "(none)"
    raise UsageError(
        f"expected a run directory, a run folder name or a spec name under {root}, "
        f"found no match; spec names there: {known}",
        where=text,
    )


# --------------------------------------------------------------------------- compare


def significance(a: list[float], b: list[float]) -> tuple[float | None, float | None]:
    """Two-sided p-values of Welch's t-test and the Mann-Whitney U test (None: too few)."""
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    welch: float | None = None
    if x.size >= 2 and y.size >= 2:
        if np.ptp(x) == 0 and np.ptp(y) == 0:
            # No spread at all (e.g. the same seeds twice): equal or certainly different.
            welch = 1.0 if x[0] == y[0] else 0.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                welch = float(stats.ttest_ind(x, y, equal_var=False).pvalue)
    mw: float | None = None
    if x.size >= 1 and y.size >= 1:
        mw = float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)
    return (
        welch if welch is not None and math.isfinite(welch) else None,
        mw if mw is not None and math.isfinite(mw) else None,
    )


@dataclass
class MetricComparison:
    """One metric of two runs: means, the difference, p-values and the verdict."""

    metric: str
    a: dict[str, float | int | None]
    b: dict[str, float | int | None]
    diff: float | None  # mean of B minus mean of A
    rel: float | None  # diff / |mean of A|
    welch_p: float | None
    mannwhitney_p: float | None
    p: float | None  # the p-value of the chosen test
    significant: bool
    better: str | None  # "a", "b" or None when not significant

    def row(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "a_mean": self.a["mean"],
            "a_std": self.a["std"],
            "a_n": self.a["n"],
            "b_mean": self.b["mean"],
            "b_std": self.b["std"],
            "b_n": self.b["n"],
            "diff": self.diff,
            "rel": self.rel,
            "welch_p": self.welch_p,
            "mannwhitney_p": self.mannwhitney_p,
            "significant": self.significant,
            "better": self.better or "",
        }


@dataclass
class Comparison:
    """Two runs side by side."""

    a: RunRecord
    b: RunRecord
    test: str
    alpha: float
    metrics: list[MetricComparison]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": {"run": self.a.path.name, "name": self.a.name, "path": str(self.a.path)},
            "b": {"run": self.b.path.name, "name": self.b.name, "path": str(self.b.path)},
            "test": self.test,
            "alpha": self.alpha,
            "metrics": {m.metric: m.row() for m in self.metrics},
            "notes": self.notes,
        }

    def rows(self) -> list[dict[str, Any]]:
        return [m.row() for m in self.metrics]


def _stats(values: list[float]) -> dict[str, float | int | None]:
    v = np.asarray(values, dtype=float)
    return {
        "mean": float(v.mean()) if v.size else None,
        "std": float(v.std(ddof=1)) if v.size > 1 else (0.0 if v.size else None),
        "n": int(v.size),
    }


def compare_runs(
    a: RunRecord, b: RunRecord, alpha: float = 0.05, test: str = "welch"
) -> Comparison:
    """Every metric both runs scored: B's mean minus A's, and whether it is significant."""
    if test not in TESTS:
        raise UsageError(f"expected a test among {', '.join(TESTS)}, found {test!r}", "--test")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"expected a significance level in (0, 1), found {alpha}", "--alpha")
    common = [m for m in a.metrics if m in b.metrics]
    if not common:
        raise UsageError(
            f"the runs share no metric: {a.path.name} has {', '.join(a.metrics) or 'none'}, "
            f"{b.path.name} has {', '.join(b.metrics) or 'none'}",
            where="runs compare",
        )
    out = []
    for m in common:
        va, vb = a.values(m), b.values(m)
        sa, sb = _stats(va), _stats(vb)
        welch, mw = significance(va, vb)
        p = welch if test == "welch" else mw
        diff = rel = None
        if sa["mean"] is not None and sb["mean"] is not None:
            diff = float(sb["mean"]) - float(sa["mean"])
            rel = diff / abs(float(sa["mean"])) if sa["mean"] else None
        significant = p is not None and p < alpha
        better = None
        if significant and diff:
            lower_better = LOWER_IS_BETTER.get(m, True)
            better = "b" if (diff < 0) == lower_better else "a"
        out.append(MetricComparison(m, sa, sb, diff, rel, welch, mw, p, significant, better))
    return Comparison(a, b, test, alpha, out, notes=_notes(a, b, out))


def _notes(a: RunRecord, b: RunRecord, metrics: list[MetricComparison]) -> list[str]:
    """What makes a comparison less meaningful than its numbers look."""
    notes = []
    wa, wb = a.results.get("test_windows"), b.results.get("test_windows")
    if wa != wb and wa is not None and wb is not None:  # a study does not record them
        notes.append(f"the runs were scored on different test parts ({wa} vs {wb} windows)")
    ba, bb = a.results.get("baselines") or {}, b.results.get("baselines") or {}
    for base in set(ba) & set(bb):
        for m in set(ba[base]) & set(bb[base]):
            x, y = _float(ba[base][m]), _float(bb[base][m])
            if x is not None and y is not None and not math.isclose(x, y, rel_tol=1e-6):
                notes.append(
                    f"the {base} baselines differ ({m} {x:.4g} vs {y:.4g}): "
                    "the test targets are not the same"
                )
                break
    small = min((min(int(m.a["n"] or 0), int(m.b["n"] or 0)) for m in metrics), default=0)
    if small < 5:
        notes.append(
            f"only {small} repeat(s) on one side: the tests have little power to find a difference"
        )
    if a.path.resolve() == b.path.resolve():
        notes.append("A and B are the same run")
    for r in (a, b):
        if r.state != "complete":
            notes.append(f"{r.path.name} is {r.state}")
        if r.kind == "tune" and r.best is not None:
            notes.append(
                f"{r.path.name} is a tune study: its best trial "
                f"(#{r.best.get('trial')}) is compared"
            )
    return notes


def plot_comparison(cmp: Comparison, path: Path) -> Path:
    """Box plots of both runs' scores, one panel per metric shared by the runs."""
    from lstmctl.report.plots import metric_boxes

    label_a, label_b = f"A ({cmp.a.name})", f"B ({cmp.b.name})"
    panels = {
        m.metric: {label_a: cmp.a.values(m.metric), label_b: cmp.b.values(m.metric)}
        for m in cmp.metrics
    }
    # A baseline line only means something when both runs were scored on the same targets.
    base_a, base_b = cmp.a.results.get("baselines") or {}, cmp.b.results.get("baselines") or {}
    refs = {
        m.metric: {
            b: float(v[m.metric])
            for b, v in base_a.items()
            if m.metric in v and (base_b.get(b) or {}).get(m.metric) == v[m.metric]
        }
        for m in cmp.metrics
    }
    title = f"A: {cmp.a.path.name}  vs  B: {cmp.b.path.name}"
    return metric_boxes(panels, Path(path), references=refs, title=title)
