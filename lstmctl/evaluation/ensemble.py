"""The repeats as an ensemble: its forecast and scores, calibrated intervals, and a verdict.

A run fits R repeats of one configuration with different seeds. Besides
describing the spread of their skill, the repeats are an ensemble:

* the **ensemble forecast** at each test target combines the members'
  forecasts (:func:`lstmctl.evaluation.member_stats.ensemble`) and is scored
  with the run's metrics;
* with ``evaluate.intervals``, **prediction intervals** from the members'
  spread, calibrated by split conformal prediction on the validation windows
  (which no member trained on), and their coverage, width, Winkler score and
  pinball losses on the test part, with the ensemble's CRPS;
* a **verdict**: a Diebold–Mariano test of the ensemble's losses against the
  best baseline's on the same targets, and the share of repeats that beat it.

Everything is in the data's original units. Classification runs have none of
this (their members' class labels do not average).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.evaluation.metrics import CLASSIFICATION_METRICS, Scale, pointwise_loss, score
from lstmctl.spec import Spec
from lstmctl.spec.vocabulary import LOWER_IS_BETTER, SCALED_METRICS
from lstmctl.training.result import FitResult

log = logging.getLogger("lstmctl")


@dataclass
class Members:
    """The successful repeats' forecasts in original units, collected as they finish."""

    test: list[np.ndarray] = field(default_factory=list)
    # Forecasts of calibration windows no member trained on, and their actual values.
    val: list[np.ndarray] = field(default_factory=list)
    val_actual: np.ndarray | None = None
    # A panel's: the series id of each calibration window (None: one series).
    val_series: list[str] | None = None

    def add(self, data: Prepared, fit: FitResult) -> None:
        """Keep ``fit``'s forecasts (a failed repeat's are left out)."""
        if fit.error is not None or data.task != "regression" or not np.size(fit.test_pred):
            return
        self.test.append(data.inverse(np.asarray(fit.test_pred, dtype=np.float64)))
        self.add_calibration(data, fit)

    def add_calibration(self, data: Prepared, fit: FitResult) -> None:
        """Keep ``fit``'s forecasts of ``data``'s validation windows, to calibrate on."""
        if fit.error is not None or data.task != "regression" or data.actual_val is None:
            return
        if data.inverse_val is not None and fit.val_pred is not None and np.size(fit.val_pred):
            self.val.append(data.inverse_val(np.asarray(fit.val_pred, dtype=np.float64)))
            self.val_actual = data.actual_val
            self.val_series = window_series(data, "val")

    def __len__(self) -> int:
        return len(self.test)


@dataclass
class EnsembleResult:
    """What the ensemble adds to a run's results."""

    scores: dict[str, float]
    forecast: np.ndarray
    # Level ("0.8") -> coverage, width, winkler, pinball_lo, pinball_hi (the test part).
    intervals: dict[str, dict[str, float]] = field(default_factory=dict)
    # Level -> (lo, hi), each shaped like ``forecast``: the fan chart's bands.
    bounds: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    crps: float | None = None
    calibration: dict[str, Any] = field(default_factory=dict)
    significance: dict[str, Any] | None = None
    # Forecast ("ensemble", each baseline) -> metric -> its value at each horizon
    # step (horizon > 1 only).
    per_step: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ensemble": {**self.scores, "members": self.calibration["members"]}}
        if self.per_step:
            out["per_step"] = self.per_step
        if self.intervals:
            out["intervals"] = self.intervals
            out["calibration"] = {k: v for k, v in self.calibration.items() if k != "members"}
            out["ensemble"]["crps"] = self.crps
        if self.significance is not None:
            out["significance"] = self.significance
        return out


def score_ensemble(
    spec: Spec,
    data: Prepared,
    members: Members,
    baselines: dict[str, np.ndarray],
    baseline_scores: dict[str, dict[str, float]],
    repeat_scores: list[dict[str, float]],
    scale: Scale | None,
) -> EnsembleResult | None:
    """The ensemble's scores, intervals and verdict (None: classification, or no member)."""
    from lstmctl.evaluation.member_stats import ensemble

    metrics: list[str] = [m for m in spec.evaluate.metrics if m not in CLASSIFICATION_METRICS]
    if not len(members) or not metrics:
        return None
    stack = np.stack(members.test)
    center = ensemble(stack)
    forecasts = {"ensemble": center, **{k: v for k, v in baselines.items() if k != "majority"}}
    if data.panel is None:
        out = EnsembleResult(
            scores=score(metrics, data.actual_test, center, scale),
            forecast=center,
            calibration={"members": len(members)},
        )
        if data.horizon > 1:
            out.per_step = {
                name: per_step(metrics, data.actual_test, pred, scale)
                for name, pred in forecasts.items()
            }
    else:
        out = _panel_scores(spec, data, metrics, forecasts)
        out.calibration = {"members": len(members)}
    if spec.evaluate.intervals:
        _intervals(spec, data, members, stack, out)
    out.significance = verdict(
        spec, data, center, baselines, baseline_scores, repeat_scores, metrics[0]
    )
    return out


def _panel_scores(
    spec: Spec, data: Prepared, metrics: list[str], forecasts: dict[str, np.ndarray]
) -> EnsembleResult:
    """A panel's ensemble scored as its repeats are: the mean over the series of each
    series' score, in its own scale (MASE would mix the series' units otherwise); by
    step too, for the ensemble (``forecasts["ensemble"]``) and each baseline."""
    from lstmctl.evaluation.evaluate import series_scales
    from lstmctl.evaluation.per_series import by_series, mean_over_series, per_step_over_series

    scales = series_scales(spec, data)
    center = forecasts["ensemble"]
    out = EnsembleResult(
        scores=mean_over_series(by_series(metrics, data, center, scales)), forecast=center
    )
    if data.horizon > 1:
        out.per_step = per_step_over_series(metrics, data, forecasts, scales)
    return out


def per_step(
    metrics: list[str], actual: np.ndarray, predicted: np.ndarray, scale: Scale | None
) -> dict[str, list[float]]:
    """Each metric at each forecast step (the error usually grows with the step)."""
    steps = range(actual.shape[1])
    rows = [score(metrics, actual[:, k : k + 1], predicted[:, k : k + 1], scale) for k in steps]
    return {m: [r[m] for r in rows] for m in metrics}


def _intervals(
    spec: Spec, data: Prepared, members: Members, stack: np.ndarray, out: EnsembleResult
) -> None:
    from lstmctl.evaluation.intervals import Conformal
    from lstmctl.evaluation.probabilistic import crps_ensemble, interval_scores

    levels = list(spec.evaluate.intervals)
    actual = members.val_actual
    if not members.val or actual is None or not len(actual):
        out.calibration.update(windows=0, note="no validation windows to calibrate on")
        return
    cal = Conformal().fit(np.stack(members.val), actual, levels, members.val_series)
    for warning in cal.warnings_:
        log.warning("warning: intervals: %s", warning)
    series = window_series(data, "test")
    out.intervals = interval_scores(data.actual_test, stack, cal, levels, series)
    out.bounds = {f"{lv:g}": cal.interval(stack, lv, series) for lv in levels}
    out.crps = crps_ensemble(stack, data.actual_test)
    out.calibration.update(
        windows=len(actual),
        method="split conformal, normalized by the members' spread, per horizon step",
        **({"too_few": dict(cal.too_few_)} if cal.too_few_ else {}),
    )


def window_series(data: Prepared, part: str) -> list[str] | None:
    """The series id of each ``part`` ("val" or "test") window of a panel (None: one series)."""
    if data.panel is None:
        return None
    index = data.panel.val_series if part == "val" else data.panel.test_series
    return [data.panel.ids[int(i)] for i in index]


def verdict(
    spec: Spec,
    data: Prepared,
    center: np.ndarray,
    baselines: dict[str, np.ndarray],
    baseline_scores: dict[str, dict[str, float]],
    repeat_scores: list[dict[str, float]],
    metric: str,
) -> dict[str, Any] | None:
    """The ensemble against the best baseline on ``metric``: a Diebold–Mariano test."""
    return against_best(
        data.actual_test,
        center,
        baselines,
        baseline_scores,
        repeat_scores,
        metric,
        data.horizon,
        _loss_weights(spec, data, metric),
    )


def against_best(
    actual: np.ndarray,
    center: np.ndarray,
    baselines: dict[str, np.ndarray],
    baseline_scores: dict[str, dict[str, float]],
    repeat_scores: list[dict[str, float]],
    metric: str,
    horizon: int,
    weight: np.ndarray | float = 1.0,
) -> dict[str, Any] | None:
    """A Diebold–Mariano verdict of ``center`` against the best of ``baselines`` (their
    forecasts of ``actual``; their scores pick the best) on ``metric``, and the share of
    the repeats (``repeat_scores``) that beat it. ``weight`` scales each window's loss."""
    from lstmctl.evaluation.significance import share_better
    from lstmctl.evaluation.significance import verdict as dm_verdict

    scored = {
        name: s[metric]
        for name, s in baseline_scores.items()
        if name in baselines and np.isfinite(s.get(metric, np.nan))
    }
    if not scored:
        return None
    pick = min if LOWER_IS_BETTER[metric] else max
    best = pick(scored, key=lambda name: scored[name])
    out = dm_verdict(
        pointwise_loss(metric, actual, center) * weight,
        pointwise_loss(metric, actual, baselines[best]) * weight,
        best,
        horizon,
    )
    values = [r[metric] for r in repeat_scores if np.isfinite(r.get(metric, np.nan))]
    out["metric"] = metric
    out["of"] = "ensemble"
    out["repeats_better"] = share_better(values, scored[best])
    return out


def _loss_weights(spec: Spec, data: Prepared, metric: str) -> np.ndarray | float:
    """A panel's losses on MASE or RMSSE in each series' own scale (one over its in-sample
    seasonal naive error), as those metrics score them; 1 otherwise (one series: a
    constant factor, which the test does not see)."""
    if data.panel is None or metric not in SCALED_METRICS:
        return 1.0
    from lstmctl.evaluation.evaluate import series_scales
    from lstmctl.evaluation.scaled import seasonal_scale

    per = [
        np.nan
        if sc is None
        else float(np.nanmean(seasonal_scale(sc.insample, sc.season, squared=metric == "rmsse")))
        for sc in series_scales(spec, data)
    ]
    return 1.0 / np.asarray(per, dtype=np.float64)[data.panel.test_series]
