"""From fitted repeats to scores: walk-forward forecasts in original units."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.errors import SpecError
from lstmctl.evaluation.metrics import CLASSIFICATION_METRICS, Scale, score
from lstmctl.evaluation.per_series import by_series, mean_over_series, series_views
from lstmctl.evaluation.summary import relative_skill, summarize
from lstmctl.spec import Spec
from lstmctl.spec.vocabulary import SCALED_METRICS, SEASONAL_BASELINES
from lstmctl.training.result import FitResult

log = logging.getLogger("lstmctl")


@dataclass
class RepeatScore:
    """One repeat's row in the results table."""

    repeat: int
    seed: int
    scores: dict[str, float]
    epochs: int
    seconds: float
    error: str | None = None
    # A panel's scores by series (``scores`` is their mean; see evaluation.per_series).
    per_series: dict[str, dict[str, float]] | None = None

    def row(self) -> dict[str, Any]:
        return {
            "repeat": self.repeat,
            "seed": self.seed,
            **self.scores,
            "epochs": self.epochs,
            "seconds": round(self.seconds, 3),
            "error": self.error or "",
        }


def season_of(spec: Spec, data: Prepared) -> int | None:
    """The seasonal period: ``evaluate.season``, else from the time column's frequency."""
    if spec.evaluate.season is not None:
        return int(spec.evaluate.season)
    series = data.series if data.panel is None else data.panel.series[0]
    if series is None:
        return None
    from lstmctl.data.calendar import infer_season

    return infer_season(series.labels)[1]


def scale_of(spec: Spec, data: Prepared) -> Scale | None:
    """What MASE and RMSSE are scaled by (None without a series: generated problems)."""
    if data.series is None:
        return None
    season = season_of(spec, data) or 1
    return Scale(insample=data.series.values[: data.series.n_insample], season=season)


def check_baselines(spec: Spec, data: Prepared) -> None:
    """SpecError for a baseline or scaled metric this data cannot have (nothing is fitted)."""
    if data.panel is not None:  # what one series can have, every series can
        return check_baselines(spec, series_views(data)[0])
    ev = spec.evaluate
    names = ev.baseline_names
    key = "evaluate.baseline" if ev.baselines is None else "evaluate.baselines"
    if "majority" in names:
        from lstmctl.evaluation.classification import majority_scores

        majority_scores(spec, data)  # majority of real values
        return
    needs_series = [b for b in names if b != "persistence"]
    needs_series += [m for m in ev.metrics if m in SCALED_METRICS]
    if needs_series and data.series is None:
        raise SpecError(
            f"{needs_series[0]} needs a series read from data.path (a generated problem "
            "has windows only); use persistence",
            where=key if needs_series[0] in names else "evaluate.metrics",
        )
    seasonal = [b for b in names if b in SEASONAL_BASELINES]
    if seasonal and season_of(spec, data) is None:
        assert data.series is not None
        labels = data.series.labels
        raise SpecError(
            f"{seasonal[0]} needs a seasonal period: expected a time column with a "
            f"regular frequency (monthly, quarterly, weekly, daily, hourly), found labels "
            f"like {', '.join(labels[:2])}; set evaluate.season",
            where="evaluate.season",
        )


def baseline_forecasts(spec: Spec, data: Prepared) -> dict[str, np.ndarray]:
    """Each baseline's forecasts of exactly the test targets the models forecast."""
    if data.panel is not None:  # each series' own, one after the other
        each = [baseline_forecasts(spec, view) for view in series_views(data)]
        return {k: np.concatenate([e[k] for e in each]) for k in each[0]} if each else {}
    out: dict[str, np.ndarray] = {}
    for name in spec.evaluate.baseline_names:
        if name == "persistence":
            out[name] = data.persistence_test
        elif name == "majority":
            from lstmctl.evaluation.classification import majority_forecast

            out[name] = majority_forecast(data)
        else:
            from lstmctl.evaluation.baselines import forecast_baseline

            assert data.series is not None  # check_baselines
            season = season_of(spec, data)
            origins = data.series.test_origins
            every = refit_every(len(origins), season)
            log.info(
                "baseline %s: forecasting %d test windows (refitted every %d)",
                name,
                len(origins),
                every,
            )
            out[name] = forecast_baseline(
                name, data.series.values, origins, data.horizon, season, refit_every=every
            )
    return out


# ETS and ARIMA are refitted (model and parameters chosen again) at most this
# many times over the test part; between refits the fitted model is run over the
# new observations with its parameters kept (statsmodels' cheap update).
MAX_REFITS = 20


def refit_every(n_origins: int, season: int | None) -> int:
    """Origins between refits: once per seasonal cycle, and at most ``MAX_REFITS`` refits."""
    return max(season or 1, -(-n_origins // MAX_REFITS), 1)


def baseline_scores(
    spec: Spec, data: Prepared, forecasts: dict[str, np.ndarray] | None = None
) -> dict[str, dict[str, float]]:
    """The baselines' metrics on exactly the test targets the models are scored on."""
    check_baselines(spec, data)
    if forecasts is None:
        forecasts = baseline_forecasts(spec, data)
    if data.panel is not None:  # the mean over the series of each series' scores
        by = baseline_scores_by_series(spec, data, forecasts)
        names = list(next(iter(by.values()), {}))
        return {n: mean_over_series({sid: b[n] for sid, b in by.items()}) for n in names}
    scale = scale_of(spec, data)
    out = {}
    for name, pred in forecasts.items():
        if name == "majority":
            from lstmctl.evaluation.classification import majority_scores

            out[name] = majority_scores(spec, data)
        else:
            out[name] = score(_error_metrics(spec), data.actual_test, pred, scale)
    return out


def _error_metrics(spec: Spec) -> list[str]:
    return [m for m in spec.evaluate.metrics if m not in CLASSIFICATION_METRICS]


def score_repeat(
    spec: Spec, data: Prepared, index: int, fit: FitResult, scale: Scale | None = None
) -> RepeatScore:
    """Invert one repeat's test predictions to original units and score them
    (``scale``: :func:`scale_of`, for MASE and RMSSE)."""
    names: list[str] = list(spec.evaluate.metrics)
    scores: dict[str, float]
    per_series = None
    if fit.error is not None:
        scores = {m: float("nan") for m in names}
    else:
        forecast = data.inverse(np.asarray(fit.test_pred, dtype=np.float64))
        if data.panel is not None:
            per_series = by_series(names, data, forecast, series_scales(spec, data))
            scores = mean_over_series(per_series)
        else:
            scores = score(names, data.actual_test, forecast, scale)
        if data.task == "regression" and not np.isfinite(forecast).all():
            fit.error = fit.error or "forecasts are not finite"
    return RepeatScore(
        repeat=index + 1,
        seed=fit.seed,
        scores=scores,
        epochs=fit.epochs_run,
        seconds=fit.seconds,
        error=fit.error,
        per_series=per_series,
    )


@dataclass
class Summary:
    """Everything the report shows."""

    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    skill: dict[str, dict[str, float | None]] = field(default_factory=dict)


def summarize_repeats(
    spec: Spec, rows: list[RepeatScore], baselines: dict[str, dict[str, float]]
) -> Summary:
    """Summaries per metric over the repeats that succeeded, and skill vs each baseline."""
    ok = [r for r in rows if r.error is None]
    out = Summary()
    for m in spec.evaluate.metrics:
        out.metrics[m] = summarize([r.scores[m] for r in ok])
    for name, base in baselines.items():
        out.skill[name] = {
            m: relative_skill(m, float(out.metrics[m]["mean"]), base[m])  # type: ignore[arg-type]
            for m in base
            if m in out.metrics
        }
    return out


# --------------------------------------------------------------------------- panels


def series_scales(spec: Spec, data: Prepared) -> list[Scale | None]:
    """A panel's MASE/RMSSE scale of each series (its own in-sample part)."""
    return [scale_of(spec, view) for view in series_views(data)]


def baseline_scores_by_series(
    spec: Spec, data: Prepared, forecasts: dict[str, np.ndarray] | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """A panel's baselines scored series by series: series id -> baseline -> metric."""
    assert data.panel is not None
    if forecasts is None:
        forecasts = baseline_forecasts(spec, data)
    out = {}
    views = series_views(data)
    for sid, part, view in zip(data.panel.ids, data.panel.test_slices(), views, strict=True):
        out[sid] = baseline_scores(spec, view, {k: v[part] for k, v in forecasts.items()})
    return out
