"""PNG figures of a run: learning curves, forecast vs actual, box plots of scores.

Figures are drawn with matplotlib's object API (``Figure`` and its Agg
canvas), never ``pyplot``: no display is needed or touched, nothing global is
changed, and the CLI's start-up never pays for the import (callers import
this module inside functions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lstmctl.targets import write_file_atomic

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
ACTUAL_COLOR = "#222222"
FORECAST_COLOR = "#d62728"
BASELINE_COLOR = "#7f7f7f"
DPI = 100


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target then renamed, like every other run-directory file;
    # a failure leaves the target as it was and no temporary file.
    return write_file_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))


def _finite(values: Sequence[float]) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a[np.isfinite(a)]


def _log_scale_helps(curves: list[np.ndarray]) -> bool:
    # Losses often fall by orders of magnitude; a linear axis then shows only the first epochs.
    values = np.concatenate([c[np.isfinite(c)] for c in curves]) if curves else np.array([])
    values = values[values > 0]
    return values.size > 0 and values.max() / values.min() > 100


def learning_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    path: Path,
    title: str = "learning curves",
    reference: float | None = None,
    loss_name: str = "loss",
) -> Path:
    """Training (solid) and validation (dashed) loss per epoch of every repeat on one figure.

    ``histories`` maps a repeat's label to its Keras-style history
    (``{"loss": [...], "val_loss": [...]}``). The lowest validation loss of
    each repeat is marked with a dot; ``reference`` (the loss of always
    predicting the training mean) is drawn as a grey line when given.
    """
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.subplots()
    n = len(histories)
    alpha = 0.9 if n <= 3 else max(0.25, 0.9 - 0.03 * n)
    curves: list[np.ndarray] = []
    has_val = False
    for label, hist in histories.items():
        loss = np.asarray(hist.get("loss", []), dtype=float)
        val = np.asarray(hist.get("val_loss", []), dtype=float)
        epochs = np.arange(1, len(loss) + 1)
        ax.plot(epochs, loss, color=TRAIN_COLOR, lw=1.0, alpha=alpha)
        curves.append(loss)
        if val.size:
            has_val = True
            ax.plot(np.arange(1, len(val) + 1), val, color=VAL_COLOR, lw=1.0, ls="--", alpha=alpha)
            curves.append(val)
            if np.isfinite(val).any():
                best = int(np.nanargmin(val))
                ax.plot(
                    best + 1, val[best], "o", color=VAL_COLOR, ms=4, alpha=min(1.0, alpha + 0.2)
                )
        if n <= 3 and loss.size:
            ax.annotate(
                label,
                (len(loss), loss[-1]),
                fontsize=7,
                color=TRAIN_COLOR,
                xytext=(3, 0),
                textcoords="offset points",
            )
    # One legend entry per kind of line, not one per repeat.
    ax.plot([], [], color=TRAIN_COLOR, label=f"training ({n} repeat{'s' if n != 1 else ''})")
    if has_val:
        ax.plot([], [], color=VAL_COLOR, ls="--", label="validation")
        ax.plot([], [], "o", color=VAL_COLOR, ms=4, label="lowest validation loss")
    if reference is not None and math.isfinite(reference) and reference > 0:
        ax.axhline(reference, color=BASELINE_COLOR, lw=1.0, ls=":", label="predict the mean")
    if _log_scale_helps(curves):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(loss_name)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def _as_3d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        return a[:, None, None]
    if a.ndim == 2:
        return a[:, :, None]
    return a.reshape(a.shape[0], a.shape[1], -1)


def forecast_vs_actual(
    actual: np.ndarray,
    forecast: np.ndarray,
    path: Path,
    labels: Sequence[str] = (),
    target_names: Sequence[str] = (),
    persistence: np.ndarray | None = None,
    title: str = "forecast vs actual",
    max_targets: int = 4,
    bands: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    forecast_label: str = "forecast",
) -> Path:
    """The test part in original units: actual values, a forecast, the baseline.

    Arrays are ``(windows, horizon, targets)``. One panel per target (at most
    ``max_targets``) for the first forecast step, and one for the last step
    when the horizon is longer than one; the x axis is the time of each
    window's first forecast step. ``bands`` (level -> lo, hi) shades
    prediction intervals under the lines, widest first: a fan chart.
    """
    actual, forecast = _as_3d(actual), _as_3d(forecast)
    shades = sorted((bands or {}).items(), key=lambda kv: -float(kv[0]))
    base = _as_3d(persistence) if persistence is not None else None
    n, horizon, n_targets = actual.shape
    steps = [0] if horizon == 1 else [0, horizon - 1]
    shown = list(range(min(n_targets, max_targets)))
    rows = len(shown) * len(steps)
    fig = Figure(figsize=(9, 2.0 + 2.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0])
    x = np.arange(n)
    names = list(target_names) or [f"target {j + 1}" for j in range(n_targets)]
    for k, (t, s) in enumerate((t, s) for t in shown for s in steps):
        ax = axes[k]
        marker = "o" if n <= 60 else None
        for i, (level, (lo, hi)) in enumerate(shades):
            ax.fill_between(
                x,
                _as_3d(lo)[:, s, t],
                _as_3d(hi)[:, s, t],
                color=FORECAST_COLOR,
                alpha=0.15 + 0.15 * i,
                lw=0,
                label=f"{float(level):.0%} interval",
            )
        ax.plot(x, actual[:, s, t], color=ACTUAL_COLOR, lw=1.4, marker=marker, ms=3, label="actual")
        ax.plot(
            x,
            forecast[:, s, t],
            color=FORECAST_COLOR,
            lw=1.2,
            marker=marker,
            ms=3,
            label=forecast_label,
        )
        if base is not None:
            ax.plot(x, base[:, s, t], color=BASELINE_COLOR, lw=1.0, ls="--", label="persistence")
        step = f", step {s + 1} of {horizon}" if horizon > 1 else ""
        ax.set_ylabel(f"{names[t]}{step}", fontsize=8)
        ax.grid(True, alpha=0.3)
        if k == 0:
            ax.legend(loc="best", fontsize=8)
    if labels and len(labels) == n:
        ticks = np.unique(np.linspace(0, n - 1, min(n, 12)).round().astype(int))
        axes[-1].set_xticks(ticks)
        axes[-1].set_xticklabels(
            [str(labels[i]) for i in ticks], rotation=30, ha="right", fontsize=7
        )
    axes[-1].set_xlabel("test window (time of its first forecast step)")
    if n_targets > len(shown):
        title += f" (first {len(shown)} of {n_targets} targets)"
    axes[0].set_title(title)
    return _save(fig, path)


def draw_boxes(
    ax: Axes,
    groups: Mapping[str, Sequence[float]],
    reference: Mapping[str, float] | None = None,
) -> None:
    """Box-and-whisker of each group's values on ``ax``, the values themselves as dots.

    ``reference`` draws horizontal lines, e.g. ``{"persistence": 136.8}``.
    Non-finite values (failed repeats) are left out.
    """
    labels = list(groups)
    data = [_finite(groups[k]) for k in labels]
    positions = np.arange(1, len(labels) + 1)
    drawable = [i for i, d in enumerate(data) if d.size]
    if drawable:
        ax.boxplot(
            [data[i] for i in drawable],
            positions=positions[drawable],
            widths=0.5,
            showmeans=True,
            meanprops={"marker": "^", "markerfacecolor": "white", "markeredgecolor": "k"},
            medianprops={"color": FORECAST_COLOR},
            flierprops={"marker": ""},  # every point is drawn below anyway
        )
    # The points: with 10-30 repeats, the distribution itself is worth seeing.
    rng = np.random.default_rng(0)
    for i in drawable:
        jitter = rng.uniform(-0.12, 0.12, data[i].size)
        ax.plot(positions[i] + jitter, data[i], ".", color=TRAIN_COLOR, alpha=0.6, ms=5)
    for k, (name, value) in enumerate((reference or {}).items()):
        if value is not None and math.isfinite(value):
            ax.axhline(value, color=BASELINE_COLOR, ls=("--", ":", "-.")[k % 3], lw=1.0, label=name)
    if reference:
        ax.legend(loc="best", fontsize=8)
    ax.set_xticks(positions)
    # Long or many labels collide under narrow boxes: slant them.
    slant = len(labels) > 4 or sum(len(k) for k in labels) > 28
    ax.set_xticklabels(
        labels, rotation=20 if slant else 0, ha="right" if slant else "center", fontsize=8
    )
    ax.set_xlim(0.4, len(labels) + 0.6)
    ax.grid(True, axis="y", alpha=0.3)


def box_plot(
    groups: Mapping[str, Sequence[float]],
    path: Path,
    title: str = "",
    ylabel: str = "",
    reference: Mapping[str, float] | None = None,
) -> Path:
    """One box per group: ``{label: values}`` -> a PNG (runs, tune trials, comparisons)."""
    width = min(14.0, max(5.0, 1.1 * len(groups) + 2.5))
    fig = Figure(figsize=(width, 4.5), layout="constrained")
    ax = fig.subplots()
    draw_boxes(ax, groups, reference)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    return _save(fig, path)


def metric_boxes(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    path: Path,
    references: Mapping[str, Mapping[str, float]] | None = None,
    title: str = "",
) -> Path:
    """One panel per metric, one box per group in it: ``{metric: {label: values}}`` -> a PNG.

    Metrics have their own scales, so each gets its own axes; ``references``
    gives each metric's horizontal lines (``{metric: {"persistence": 136.8}}``).
    """
    names = list(panels)
    groups = max((len(g) for g in panels.values()), default=1)
    width = (1.0 + 1.1 * groups) * max(1, len(names)) + 1.0
    fig = Figure(figsize=(min(16.0, max(6.0, width)), 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(names)), squeeze=False)[0])
    for ax, m in zip(axes, names, strict=False):
        draw_boxes(ax, panels[m], (references or {}).get(m))
        ax.set_title(m)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def score_boxes(
    metrics: Mapping[str, Sequence[float]],
    path: Path,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
    title: str = "",
) -> Path:
    """One panel per metric: the repeats' scores as a box, each baseline as a line."""
    panels = {m: {f"{_finite(v).size} repeats": v} for m, v in metrics.items()}
    refs = {m: {b: v[m] for b, v in (baselines or {}).items() if m in v} for m in metrics}
    return metric_boxes(panels, path, references=refs, title=title)


def per_step_errors(
    per_step: dict[str, dict[str, list[float]]], metric: str, path: Path, title: str
) -> Path:
    """The error at each forecast step, one line per forecast (ensemble, baselines)."""
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    for name, scores in per_step.items():
        values = scores.get(metric)
        if not values:
            continue
        steps = np.arange(1, len(values) + 1)
        style = {"color": FORECAST_COLOR, "lw": 1.8} if name == "ensemble" else {"lw": 1.0}
        ax.plot(steps, values, marker="o", ms=3, label=name, **style)  # type: ignore[arg-type]
    ax.set_xlabel("forecast step")
    ax.set_ylabel(f"{metric} (original units)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    return _save(fig, path)
