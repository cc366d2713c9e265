"""The human view of a panel's series: the best and worst few, and how many beat the baseline.

``series_table`` is the table ``run`` prints; ``series_grid`` the figure of
the same series' test parts that replaces a one-series run's forecast plot.

A run over many series prints its aggregate (the mean over the series) like
any run; this adds, per series, the model's mean score over the repeats beside
that series' own baseline, ranked by the skill over it, and a count of the
series the model beats. Skill is relative, so series in different units rank
together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from lstmctl.targets import write_file_atomic

# Series shown at each end of the ranking.
SHOWN = 3


def _num(x: Any) -> str:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "-"
    return f"{x:.3f}" if abs(x) < 1e5 else f"{x:.4g}"


def reference(data: dict[str, Any]) -> str | None:
    """The baseline series are ranked against: persistence when scored, else the best."""
    names = list(data.get("baselines", {}))
    if "persistence" in names:
        return "persistence"
    return data.get("best_baseline") or (names[0] if names else None)


def ranked(data: dict[str, Any], metric: str, base: str) -> list[tuple[str, float]]:
    """(series, skill over ``base`` on ``metric``), best first; series without one last."""
    skills = []
    for sid, s in data["per_series"].items():
        skill = s.get("skill", {}).get(base, {}).get(metric)
        skills.append((sid, -math.inf if skill is None else float(skill)))
    return sorted(skills, key=lambda t: -t[1])


def series_table(data: dict[str, Any]) -> tuple[Table, str] | None:
    """The best and worst few series on the run's first metric, and a summary line."""
    per = data.get("per_series") or {}
    metrics = list(data.get("metrics", {}))
    base = reference(data)
    if not per or not metrics or base is None:
        return None
    metric = metrics[0]
    order = ranked(data, metric, base)
    shown = order if len(order) <= 2 * SHOWN else order[:SHOWN] + order[-SHOWN:]
    table = Table(
        title=f"series ({len(per)}): best and worst by skill over {base} ({metric}, "
        "mean over repeats)"
        if len(order) > 2 * SHOWN
        else f"series: skill over {base} ({metric}, mean over repeats)"
    )
    for col in ("series", f"{metric} mean", "std", base, "skill"):
        table.add_column(col, justify="left" if col == "series" else "right")
    for i, (sid, skill) in enumerate(shown):
        s = per[sid]
        if len(order) > 2 * SHOWN and i == SHOWN:
            table.add_section()
        table.add_row(
            sid,
            _num(s["metrics"][metric]["mean"]),
            _num(s["metrics"][metric]["std"]),
            _num(s["baselines"].get(base, {}).get(metric)),
            "-" if skill == -math.inf else f"{skill:+.1%}",
        )
    beat = sum(1 for _, skill in order if skill > 0)
    line = f"{beat} of {len(order)} series beat {base} on {metric} (mean over repeats)"
    skipped = data.get("skipped_series") or {}
    if skipped:
        line += f"; {len(skipped)} left out as too short: {', '.join(skipped)}"
    return table, line


def series_grid(
    actual: np.ndarray,
    forecast: np.ndarray,
    persistence: np.ndarray,
    series: Sequence[str],
    labels: Sequence[str],
    data: dict[str, Any],
    path: Path,
    title: str,
) -> Path | None:
    """A grid of the best and worst few series' test parts: actual, forecast, persistence.

    Arrays are the pooled test windows ``(windows, horizon, targets)``, series
    after series (``series``: each window's id); each panel draws one series'
    first target at the first forecast step, titled with its skill.
    """
    from matplotlib.figure import Figure

    from lstmctl.report.plots import ACTUAL_COLOR, BASELINE_COLOR, DPI, FORECAST_COLOR

    metrics = list(data.get("metrics", {}))
    base = reference(data)
    if not data.get("per_series") or not metrics or base is None:
        return None
    order = ranked(data, metrics[0], base)
    shown = order if len(order) <= 2 * SHOWN else order[:SHOWN] + order[-SHOWN:]
    ids = np.asarray(series, dtype=object)
    cols = 2 if len(shown) > 1 else 1
    rows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(10, 1.0 + 2.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax, (sid, skill) in zip(axes, shown, strict=False):
        at = np.flatnonzero(ids == sid)
        x = np.arange(len(at))
        ax.plot(x, actual[at, 0, 0], color=ACTUAL_COLOR, lw=1.4, marker="o", ms=3, label="actual")
        ax.plot(
            x, forecast[at, 0, 0], color=FORECAST_COLOR, lw=1.2, marker="o", ms=3, label="forecast"
        )
        ax.plot(
            x, persistence[at, 0, 0], color=BASELINE_COLOR, lw=1.0, ls="--", label="persistence"
        )
        shown_skill = "" if skill == -math.inf else f", skill {skill:+.1%} over {base}"
        ax.set_title(f"{sid}{shown_skill}", fontsize=9)
        ax.grid(True, alpha=0.3)
        if len(labels) == len(ids) and len(at):
            ticks = np.unique(np.linspace(0, len(at) - 1, min(len(at), 4)).round().astype(int))
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(labels[at[i]]) for i in ticks], fontsize=7)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    axes[0].legend(loc="best", fontsize=7)
    fig.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_file_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))
