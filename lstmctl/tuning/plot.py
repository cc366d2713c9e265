"""Box-and-whisker plot of the repeats' scores, one box per configuration.

The course compares configurations by the distribution of their repeats, not
by one number: the box shows the median and quartiles, the whiskers the
spread, the diamond the mean, and the dashed line the baseline.
"""

from __future__ import annotations

import math
from pathlib import Path

from lstmctl.targets import write_file_atomic
from lstmctl.tuning.report import _cell, short_names
from lstmctl.tuning.results import TuneResult

# More boxes than this and the labels stop being readable.
MAX_BOXES = 30


def plot_repeats(result: TuneResult, path: Path) -> Path | None:
    """Write the plot of the best ``MAX_BOXES`` trials with scores to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    rows = [
        r
        for r in result.rows
        if r.state in ("complete", "pruned")
        and any(v is not None and math.isfinite(v) for v in r.values)
    ][:MAX_BOXES]
    if not rows:
        return None
    keys = list(rows[0].params)
    names = short_names(keys)
    labels = [
        f"#{r.number}\n" + "\n".join(f"{names[k]}={_cell(r.params.get(k))}" for k in keys)
        for r in rows
    ]
    data = [[float(v) for v in r.values if v is not None and math.isfinite(v)] for r in rows]

    width = max(6.0, 0.9 * len(rows) + 2.0)
    fig, ax = plt.subplots(figsize=(width, 5.0))
    try:
        box = ax.boxplot(data, showmeans=True, patch_artist=True)
        ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
        for patch, r in zip(box["boxes"], rows, strict=True):
            patch.set_facecolor("#9ecae1" if r.state == "complete" else "#fdd0a2")
        baseline = rows[0].baseline
        # Room for the baseline's line and its label, wherever it lies.
        ys = [v for d in data for v in d] + list(baseline.values())
        lo, hi = min(ys), max(ys)
        pad = 0.08 * ((hi - lo) or abs(hi) or 1.0)
        ax.set_ylim(lo - pad, hi + pad)
        for name, value in baseline.items():
            ax.axhline(value, color="grey", linestyle="--", linewidth=1)
            ax.annotate(
                f"{name} {value:.3f}",
                xy=(0.995, value),
                xycoords=("axes fraction", "data"),
                ha="right",
                va="bottom",
                fontsize=8,
                color="grey",
            )
        ax.set_ylabel(f"{result.metric} per repeat")
        pruned = " (orange: pruned)" if any(r.state == "pruned" for r in rows) else ""
        ax.set_title(
            f"{result.spec.name}: {result.metric} over repeats, best first{pruned}", fontsize=10
        )
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Atomic, like every file of a run directory: no temporary file is left on failure.
        write_file_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)
    return path
