"""What a run leaves beside its scores: ``forecasts.csv``, the plots and ``report.html``.

``RunOutputs`` collects, while the repeats finish, what the scores alone do
not keep: each repeat's learning curves and its test forecasts in original
units. ``write`` turns them into files in the run directory once the run is
done.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lstmctl.rundir import write_atomic
from lstmctl.spec import Spec
from lstmctl.spec.vocabulary import LOWER_IS_BETTER

log = logging.getLogger("lstmctl")

LEARNING_CURVES = "learning-curves.png"
FORECAST = "forecast.png"
SCORES = "scores.png"
FORECASTS_CSV = "forecasts.csv"
PER_STEP = "per-step.png"


def constant_loss(loss: str, y: np.ndarray) -> float | None:
    """The training loss of always predicting the training targets' mean (median for MAE).

    The yardstick for "training loss is high": a model whose loss stays near
    it has learned little beyond the average. None for losses it does not
    apply to (cross-entropy, custom losses).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        return None
    flat = y.reshape(len(y), -1)
    if loss in {"mse", "mean_squared_error"}:
        return float(np.mean((flat - flat.mean(axis=0)) ** 2))
    if loss in {"mae", "mean_absolute_error"}:
        return float(np.mean(np.abs(flat - np.median(flat, axis=0))))
    return None


def median_repeat(rows: Sequence[Any], metric: str) -> Any | None:
    """The successful repeat whose ``metric`` is the median (the lower middle for an even count)."""
    ok = [r for r in rows if r.error is None and math.isfinite(r.scores.get(metric, math.nan))]
    if not ok:
        return None
    ok.sort(key=lambda r: (r.scores[metric], r.repeat))
    return ok[(len(ok) - 1) // 2]


class RunOutputs:
    """Learning curves and test forecasts (original units) of each repeat of one run."""

    def __init__(self, spec: Spec, data: Any) -> None:
        self.spec = spec
        self.labels = [str(v) for v in data.test_labels]
        # A panel's series of each test window (None: one series).
        panel = getattr(data, "panel", None)
        self.series = None if panel is None else [panel.ids[i] for i in panel.test_series]
        self.target_names = list(data.target_names)
        self.actual = np.asarray(data.actual_test, dtype=np.float64)
        self.persistence = np.asarray(data.persistence_test, dtype=np.float64)
        self.task = str(getattr(data, "task", "regression"))
        self.reference_loss = constant_loss(spec.train.loss, data.y_train)
        self.histories: dict[int, dict[str, list[float]]] = {}
        self.forecasts: dict[int, np.ndarray] = {}
        self.plots: list[Path] = []
        self._inverse = data.inverse
        # Set by the run once every repeat is in: each baseline's forecasts of the
        # test targets, and the ensemble (evaluation.ensemble.EnsembleResult).
        self.baselines: dict[str, np.ndarray] = {}
        self.ensemble: Any = None

    def add(self, row: Any, fit: Any) -> None:
        """Keep one scored repeat's history and, if it succeeded, its forecasts."""
        self.histories[row.repeat] = {k: list(v) for k, v in fit.history.items()}
        if row.error is None and fit.error is None and np.size(fit.test_pred):
            self.forecasts[row.repeat] = np.asarray(
                self._inverse(np.asarray(fit.test_pred, dtype=np.float64)), dtype=np.float64
            )

    # ------------------------------------------------------------------ files

    def forecasts_csv(self) -> str:
        """One row per test window, step and target: time, actual, baseline, every repeat."""
        import pandas as pd

        actual = _as_3d(self.actual)
        n, horizon, n_targets = actual.shape
        # Built column-wise: test parts of thousands of windows x 30 repeats stay fast.
        w, s, t = (a.ravel() for a in np.indices(actual.shape))
        labels = self.labels if len(self.labels) == n else [str(i) for i in range(n)]
        names = self.target_names if len(self.target_names) == n_targets else None
        columns: dict[str, Any] = {
            **({"series": np.asarray(self.series, dtype=object)[w]} if self.series else {}),
            "time": np.asarray(labels, dtype=object)[w],
            "step": s + 1,
            "target": np.asarray(names, dtype=object)[t] if names else t + 1,
            "actual": actual.ravel(),
        }
        if self.persistence.shape == self.actual.shape and not self.baselines:
            columns["persistence"] = _as_3d(self.persistence).ravel()
        for name, pred in self.baselines.items():
            if np.shape(pred) == self.actual.shape:
                columns[name] = _as_3d(pred).ravel()
        if self.ensemble is not None and self.ensemble.forecast.shape == self.actual.shape:
            columns["ensemble"] = _as_3d(self.ensemble.forecast).ravel()
            for level, (lo, hi) in self.ensemble.bounds.items():
                pct = f"{float(level) * 100:g}"
                columns[f"lo_{pct}"] = _as_3d(lo).ravel()
                columns[f"hi_{pct}"] = _as_3d(hi).ravel()
        for k, f in sorted(self.forecasts.items()):
            if f.shape == self.actual.shape:
                columns[f"repeat_{k:02d}"] = _as_3d(f).ravel()
        # repr-exact floats, so the file scores exactly as the run did.
        return str(pd.DataFrame(columns).to_csv(index=False, lineterminator="\n"))

    def write(self, result: Any) -> list[Path]:
        """Write forecasts.csv, the plots and report.html into the run directory.

        A figure that cannot be drawn costs a warning, never the run: the
        scores are already saved.
        """
        run_dir = Path(result.run_dir)
        self.ensemble = getattr(result, "ensemble", None)
        write_atomic(run_dir / FORECASTS_CSV, self.forecasts_csv())
        self.plots = []
        for name, draw in (
            (LEARNING_CURVES, self._learning_curves),
            (FORECAST, self._forecast),
            (SCORES, self._scores),
            (PER_STEP, self._per_step),
        ):
            try:
                path = draw(run_dir / name, result)
            except Exception as e:  # a plotting bug must not fail a finished run
                log.warning("warning: could not draw %s: %s", name, e)
                continue
            if path is not None:
                self.plots.append(path)
        from lstmctl.report.html import write_report

        write_report(run_dir)
        return list(self.plots)

    def _title(self, result: Any) -> str:
        return f"{self.spec.name} — {self.spec.model.arch}"

    def _learning_curves(self, path: Path, result: Any) -> Path | None:
        from lstmctl.report.plots import learning_curves

        if not any(h.get("loss") for h in self.histories.values()):
            return None
        return learning_curves(
            {f"repeat {k}": h for k, h in sorted(self.histories.items())},
            path,
            title=f"{self._title(result)}: learning curves",
            reference=self.reference_loss,
            loss_name=f"loss ({self.spec.train.loss})",
        )

    def _forecast(self, path: Path, result: Any) -> Path | None:
        from lstmctl.report.plots import forecast_vs_actual

        metric = next((m for m in self.spec.evaluate.metrics if m in LOWER_IS_BETTER), None)
        # Class labels drawn as lines say nothing; accuracy tables say it all.
        if self.task != "regression" or metric is None or not self.forecasts:
            return None
        if self.series:  # a panel: a grid of its best and worst series
            return self._series_grid(path, result, metric)
        ens = self.ensemble
        if ens is not None and ens.forecast.shape == self.actual.shape and metric in ens.scores:
            shown = f" with {', '.join(f'{float(k):.0%}' for k in ens.bounds)} intervals"
            return forecast_vs_actual(
                self.actual,
                ens.forecast,
                path,
                labels=self.labels,
                target_names=self.target_names,
                persistence=self.persistence
                if self.persistence.shape == self.actual.shape
                else None,
                title=f"{self._title(result)}: ensemble of {len(self.forecasts)} "
                f"({metric} {ens.scores[metric]:.4g}){shown if ens.bounds else ''}",
                bands=ens.bounds,
                forecast_label="ensemble",
            )
        median = median_repeat(result.rows, metric)
        if median is None or median.repeat not in self.forecasts:
            return None
        forecast = self.forecasts[median.repeat]
        if forecast.shape != self.actual.shape:
            return None
        score = median.scores[metric]
        return forecast_vs_actual(
            self.actual,
            forecast,
            path,
            labels=self.labels,
            target_names=self.target_names,
            persistence=self.persistence if self.persistence.shape == self.actual.shape else None,
            title=f"{self._title(result)}: repeat {median.repeat} (median {metric} {score:.4g})",
        )

    def _series_grid(self, path: Path, result: Any, metric: str) -> Path | None:
        from lstmctl.report.panel_view import series_grid

        ens, what = self.ensemble, f"ensemble of {len(self.forecasts)}"
        if ens is not None and ens.forecast.shape == self.actual.shape:
            forecast = ens.forecast
        else:
            median = median_repeat(result.rows, metric)
            if median is None or median.repeat not in self.forecasts:
                return None
            forecast, what = self.forecasts[median.repeat], f"repeat {median.repeat}"
        return series_grid(
            _as_3d(self.actual),
            _as_3d(forecast),
            _as_3d(self.persistence),
            self.series or [],
            self.labels,
            result.to_json(),
            path,
            title=f"{self._title(result)}: {what}, best and worst series",
        )

    def _per_step(self, path: Path, result: Any) -> Path | None:
        from lstmctl.report.plots import per_step_errors

        if self.ensemble is None or not self.ensemble.per_step:
            return None
        metric = next(iter(self.ensemble.scores))
        return per_step_errors(
            self.ensemble.per_step,
            metric,
            path,
            title=f"{self._title(result)}: {metric} at each forecast step",
        )

    def _scores(self, path: Path, result: Any) -> Path | None:
        from lstmctl.report.plots import score_boxes

        metrics: dict[str, list[float]] = {
            str(m): [r.scores[m] for r in result.rows] for m in self.spec.evaluate.metrics
        }
        if not any(math.isfinite(v) for vs in metrics.values() for v in vs):
            return None
        return score_boxes(
            metrics,
            path,
            baselines=result.baselines,
            title=f"{self._title(result)}: scores over repeats (original units)",
        )


def _as_3d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 1:
        return a[:, None, None]
    if a.ndim == 2:
        return a[:, :, None]
    return a.reshape(a.shape[0], a.shape[1], -1)
