"""Two runs compared metric by metric over their repeats, with significance tests.

Welch's t-test (unequal variances) and the Mann-Whitney U test (no normality
assumed): LSTM skill is a distribution, and a difference of means is only news
when it stands out of the repeats' spread.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lstmctl.errors import UsageError
from lstmctl.history.record import RunRecord, finite_float
from lstmctl.spec.vocabulary import LOWER_IS_BETTER

Test = Literal["welch", "mannwhitney"]
TESTS: tuple[str, ...] = ("welch", "mannwhitney")


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
            x, y = finite_float(ba[base][m]), finite_float(bb[base][m])
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
