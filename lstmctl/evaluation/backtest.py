"""A backtest below the workflows: its data prepared, its folds fitted, every fold scored.

``run`` (:mod:`lstmctl.workflows.backtest`) and a tuning trial
(:mod:`lstmctl.tuning.folds_trial`) both run a backtest through here, so a
trial's pooled score is the one ``run`` reports for the same configuration.

The data is prepared once for all folds (:mod:`lstmctl.data.folds`): its test
windows are every fold's, and each fold scores its own subset of them.

* **Per fold**: each repeat's forecasts of the fold's test windows, inverted
  walk-forward to original units and scored; each baseline on exactly those
  targets. MASE and RMSSE are scaled by the rows before the fold's test part.
* **Pooled**: the folds' targets concatenated (fold by fold, in time order;
  with ``step`` below the test length the folds overlap and a target counts
  once per fold that tests it). Each repeat's pooled score, the baselines'
  pooled scores, and the verdict: a Diebold–Mariano test of the ensemble
  (the repeats' mean forecast) against the best baseline on the pooled
  targets. Pooled MASE and RMSSE are scaled by the earliest fold's training
  rows, the one in-sample part every fold has seen.

The baselines forecast every test window once (walk-forward over the union
of the folds' origins, :func:`lstmctl.evaluation.evaluate.baseline_forecasts`)
and each fold takes its own: a walk-forward forecast at an origin uses the
rows up to that origin only, whichever fold it is scored in. ETS and ARIMA
re-select their model on the union's schedule (every season), so a fold's
refits fall where the union's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmctl.data.folds import FoldPlan, FoldRange, backtest_test_rows, fold_ranges, plan_folds
from lstmctl.data.prepared import Prepared
from lstmctl.errors import SpecError
from lstmctl.evaluation.ensemble import against_best
from lstmctl.evaluation.evaluate import RepeatScore, season_of
from lstmctl.evaluation.member_stats import ensemble
from lstmctl.evaluation.metrics import CLASSIFICATION_METRICS, Scale, score
from lstmctl.evaluation.summary import summarize
from lstmctl.spec import Spec
from lstmctl.training.result import FitResult

# Called between chunks of epochs with the learning curves (training.fused.OnEpochs).
OnEpochs = Callable[[int, dict[str, np.ndarray]], None]


@dataclass
class FoldScores:
    """One fold's (or the pooled) scores: each repeat's, their summary, the baselines'."""

    rows: list[RepeatScore]
    baselines: dict[str, dict[str, float]]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    fold: int | None = None
    train_rows: int = 0
    test: list[str] = field(default_factory=list)
    significance: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metrics": self.metrics, "baselines": self.baselines}
        if self.fold is not None:
            return {"fold": self.fold, "train_rows": self.train_rows, "test": self.test, **out}
        return {**out, "significance": self.significance}


@dataclass
class BacktestScores:
    """Every fold's scores and the pooled ones (and the folds' windows they were scored on)."""

    folds: list[FoldScores]
    pooled: FoldScores
    ranges: list[FoldRange] = field(default_factory=list)
    # fits[f][i]: repeat i of fold f (its learning curve, for a tuning trial's pruning).
    fits: list[list[FitResult]] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"folds": [f.to_json() for f in self.folds], "pooled": self.pooled.to_json()}


# --------------------------------------------------------------------------- prepare and fit


def check_backtest(spec: Spec) -> None:
    """SpecError for what a backtest does not support (see :mod:`lstmctl.workflows.backtest`)."""
    where, what = None, ""
    es = spec.train.early_stopping
    if spec.data.problem is not None:
        where, what = "data.problem", "backtests need a series read from data.path"
    elif spec.backend != "auto":
        where, what = "backend", "backtests run on the fused trainer: use backend: auto"
    elif es is not None and es.monitor == "val_loss":
        where, what = "train.early_stopping.monitor", "backtests have no validation part: use loss"
    elif spec.data.split.validation:
        where, what = "data.split.validation", "backtests have no validation part: set it to 0"
    elif spec.evaluate.intervals:
        where, what = "evaluate.intervals", "backtests do not calibrate intervals yet: use []"
    elif spec.evaluate.update is not None:
        where, what = "evaluate.update", "backtests do not run the update experiment"
    elif spec.data.series:
        where, what = "data.series", "backtests take one series"
    elif spec.data.is_panel:  # one series with known or calendar inputs: a panel of one
        where = "data.known" if spec.data.known else "data.calendar"
        what = "backtests take no known or calendar inputs yet"
    elif spec.tracking.mlflow:
        where, what = "tracking.mlflow", "backtests are not logged to MLflow yet"
    if where is not None:
        raise SpecError(f"{what} (evaluate.backtest is set)", where=where)


def prepare_backtest(spec: Spec) -> tuple[Spec, Prepared, FoldPlan]:
    """Check the spec, plan its folds and prepare the data all folds share."""
    from lstmctl.data.prepare import prepare
    from lstmctl.evaluation.preflight import check_run
    from lstmctl.spec.derive import derive

    bt = spec.evaluate.backtest
    assert bt is not None
    check_backtest(spec)
    spec, usual = check_run(spec)
    assert usual.series is not None and usual.pipeline is not None
    n_rows, n_test = len(usual.series.values), int(usual.state["rows"]["test"])
    need = usual.pipeline.lags + usual.lookback + usual.horizon
    plan = plan_folds(n_rows, n_test, bt.folds, bt.step, need)
    shared = derive(spec, {"data.split.test": backtest_test_rows(plan)}, validate=False)
    data = prepare(shared)
    check_fold_fits(spec, data)
    return spec, data, plan


def check_fold_fits(spec: Spec, data: Prepared) -> None:
    """The checks a backtest's fits need on the shared data: windows, baselines, and
    (refitted) the F x R replicas in one program and in memory. A tuning trial whose
    data is already prepared runs these again for its own model and batch."""
    from lstmctl.evaluation.evaluate import check_baselines
    from lstmctl.training.checks import check_windows

    bt = spec.evaluate.backtest
    assert bt is not None
    check_windows(spec, data)
    check_baselines(spec, data)
    if bt.refit:
        _check_replicas(spec, data, bt.folds)


def _check_replicas(spec: Spec, data: Prepared, folds: int) -> None:
    """F x R replicas in one program: within one block of the fused trainer, and memory."""
    from lstmctl.spec.derive import derive
    from lstmctl.training.footprint import FUSED_BLOCK, check_footprint

    n = folds * spec.evaluate.repeats
    if n > FUSED_BLOCK:
        raise SpecError(
            f"expected at most {FUSED_BLOCK} fits in one program (folds x repeats), found "
            f"{folds} x {spec.evaluate.repeats} = {n}; the fused folds are not split into "
            "blocks yet: use fewer folds or repeats",
            where="evaluate.backtest.folds",
        )
    check_footprint(derive(spec, {"evaluate.repeats": n}, validate=False), data)


def backtest_ranges(spec: Spec, data: Prepared, plan: FoldPlan) -> list[FoldRange]:
    """Each fold's training windows and test windows in the shared data."""
    bt = spec.evaluate.backtest
    assert bt is not None and data.series is not None
    batch = spec.train.batch_size if spec.model.stateful else None
    origins = data.series.test_origins
    return fold_ranges(plan, len(data.X_train), origins, data.horizon, bt.window, batch)


def fit_backtest(
    spec: Spec,
    data: Prepared,
    plan: FoldPlan,
    ranges: list[FoldRange],
    baselines: dict[str, np.ndarray],
    progress: Callable[[int, int], None] | None = None,
    on_epochs: OnEpochs | None = None,
) -> BacktestScores:
    """Fit every fold's repeats and score them (``baselines``: every test window's
    forecasts, :func:`lstmctl.evaluation.evaluate.baseline_forecasts`).

    With ``refit`` every fold's repeats are one compiled program
    (:func:`lstmctl.training.folds_fit.fit_folds`); without, the repeats are
    fitted once on the earliest fold's training rows and forecast every fold.
    ``on_epochs`` sees the learning curves between chunks of epochs (a tuning
    trial's epoch pruning).
    """
    from lstmctl.training.backend import use_backend

    bt = spec.evaluate.backtest
    assert bt is not None
    use_backend(spec.backend)
    if bt.refit:
        from lstmctl.training.folds_fit import fit_folds

        fits = fit_folds(spec, data, ranges, progress, on_epochs)
        first = plan.test_start(0)
        train_rows = [
            plan.test_start(f) if bt.window == "expanding" else first for f in range(bt.folds)
        ]
    else:
        from lstmctl.training.fused import fit_fused

        fits = [fit_fused(spec, data, progress, on_epochs=on_epochs)] * bt.folds
        train_rows = [plan.test_start(0)] * bt.folds
    scores = score_backtest(spec, data, plan, ranges, fits, baselines, train_rows)
    scores.fits = fits
    return scores


# --------------------------------------------------------------------------- score


def score_backtest(
    spec: Spec,
    data: Prepared,
    plan: FoldPlan,
    ranges: list[FoldRange],
    fits: list[list[FitResult]],
    baselines: dict[str, np.ndarray],
    train_rows: list[int],
) -> BacktestScores:
    """Score ``fits[f][i]`` (repeat i of fold f; its ``test_pred`` covers fold f's test
    windows, or every test window when one fit scores all folds) and the baselines'
    forecasts of every test window."""
    assert data.series is not None  # backtests need a series read from data.path
    season = season_of(spec, data) or 1
    values = data.series.values
    labels = data.series.labels
    folds: list[FoldScores] = []
    forecasts: list[list[np.ndarray | None]] = []  # [fold][repeat], original units
    for f, rng in enumerate(ranges):
        start = plan.test_start(f)
        scale = Scale(insample=values[:start], season=season)
        actual = data.actual_test[rng.test]
        preds = [_inverted(data, rng, fit) for fit in fits[f]]
        forecasts.append(preds)
        rows = [
            _row(spec, i, fit, actual, p, scale)
            for i, (fit, p) in enumerate(zip(fits[f], preds, strict=True))
        ]
        fold = FoldScores(
            rows=rows,
            baselines=_baseline_scores(spec, actual, baselines, rng.test, scale),
            fold=f,
            train_rows=train_rows[f],
            test=[labels[start], labels[start + plan.n_test - 1]],
        )
        fold.metrics = _summary(spec, rows)
        folds.append(fold)
    pooled = _pooled(spec, data, ranges, fits, forecasts, baselines, season)
    return BacktestScores(folds, pooled, ranges)


def _inverted(data: Prepared, rng: FoldRange, fit: FitResult) -> np.ndarray | None:
    """A fit's forecasts of the fold's test windows in original units (None: it failed)."""
    if fit.error is not None or not np.size(fit.test_pred):
        return None
    pred = np.asarray(fit.test_pred, dtype=np.float64)
    if len(pred) == len(data.X_test) and len(rng.test) != len(pred):
        pred = pred[rng.test]  # one fit's forecasts of every fold's windows
    # The walk-forward inverse works window by window: other windows' rows are filler.
    full = np.zeros((len(data.X_test), *pred.shape[1:]), np.float64)
    full[rng.test] = pred
    return data.inverse(full)[rng.test]


def _row(
    spec: Spec,
    index: int,
    fit: FitResult,
    actual: np.ndarray,
    forecast: np.ndarray | None,
    scale: Scale,
) -> RepeatScore:
    names: list[str] = list(spec.evaluate.metrics)
    error = fit.error
    scores: dict[str, float]
    if forecast is None:
        scores = {m: float("nan") for m in names}
    else:
        scores = score(names, actual, forecast, scale)
        if not np.isfinite(forecast).all():
            error = error or "forecasts are not finite"
    return RepeatScore(index + 1, fit.seed, scores, fit.epochs_run, fit.seconds, error)


def _summary(spec: Spec, rows: list[RepeatScore]) -> dict[str, dict[str, Any]]:
    ok = [r for r in rows if r.error is None]
    return {m: summarize([r.scores[m] for r in ok]) for m in spec.evaluate.metrics}


def _baseline_scores(
    spec: Spec,
    actual: np.ndarray,
    baselines: dict[str, np.ndarray],
    windows: np.ndarray,
    scale: Scale,
) -> dict[str, dict[str, float]]:
    metrics = [m for m in spec.evaluate.metrics if m not in CLASSIFICATION_METRICS]
    return {name: score(metrics, actual, pred[windows], scale) for name, pred in baselines.items()}


def _pooled(
    spec: Spec,
    data: Prepared,
    ranges: list[FoldRange],
    fits: list[list[FitResult]],
    forecasts: list[list[np.ndarray | None]],
    baselines: dict[str, np.ndarray],
    season: int,
) -> FoldScores:
    """Every fold's targets as one test set: each repeat's score, the baselines', the verdict."""
    assert data.series is not None
    scale = Scale(insample=data.series.values[: data.series.n_insample], season=season)
    windows = np.concatenate([rng.test for rng in ranges])
    actual = data.actual_test[windows]
    rows: list[RepeatScore] = []
    members: list[np.ndarray] = []
    for i in range(spec.evaluate.repeats):
        parts = [forecasts[f][i] for f in range(len(ranges))]
        failed = next((fits[f][i] for f in range(len(ranges)) if parts[f] is None), None)
        done = [p for p in parts if p is not None]
        pooled = np.concatenate(done) if failed is None else None
        fit = failed if failed is not None else fits[-1][i]
        row = _row(spec, i, fit, actual, pooled, scale)
        rows.append(row)
        if row.error is None and pooled is not None:
            members.append(pooled)
    out = FoldScores(rows=rows, baselines=_baseline_scores(spec, actual, baselines, windows, scale))
    out.metrics = _summary(spec, rows)
    if members:
        out.significance = _verdict(
            spec, data, actual, ensemble(np.stack(members)), out, baselines, windows
        )
    return out


def _verdict(
    spec: Spec,
    data: Prepared,
    actual: np.ndarray,
    center: np.ndarray,
    pooled: FoldScores,
    baselines: dict[str, np.ndarray],
    windows: np.ndarray,
) -> dict[str, Any] | None:
    """The ensemble against the best baseline on the first metric, over the pooled targets."""
    metrics = [m for m in spec.evaluate.metrics if m not in CLASSIFICATION_METRICS]
    if not metrics:
        return None
    return against_best(
        actual,
        center,
        {name: forecast[windows] for name, forecast in baselines.items()},
        pooled.baselines,
        [r.scores for r in pooled.rows if r.error is None],
        metrics[0],
        data.horizon,
    )
