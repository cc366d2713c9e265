"""A study's trials as rows: parameters, the repeats' scores and their summary, state.

Everything is read back from the storage, so the report of a study is the
same whichever worker (or machine) ran which trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lstmctl import __version__
from lstmctl.evaluation.summary import summarize
from lstmctl.spec.derive import best_spec
from lstmctl.spec.tune_space import Dimension, decode
from lstmctl.tuning.storage import superseded

STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running"}


@dataclass
class TrialRow:
    """One trial of the study, in the units of its objective metric."""

    number: int
    state: str  # complete | pruned | failed | running | waiting
    params: dict[str, Any]
    values: list[float | None]  # the objective metric, per repeat (None: that repeat failed)
    summary: dict[str, Any]  # mean, std, min, median, max over the finite values
    scores: dict[str, list[float | None]]  # every metric, per repeat
    repeats: int  # repeats that ran
    seconds: float | None
    note: str = ""
    worker: str = ""
    baseline: dict[str, float] = field(default_factory=dict)
    # The trial that re-runs this one's configuration (it was cut short), if any.
    retried_as: int | None = None
    # With a backtest: each fold's scores, every metric per repeat (``values`` are pooled).
    folds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Done for good: completed, pruned, or failed with an error of its own."""
        return self.state in ("complete", "pruned", "failed") and self.retried_as is None

    def objective(self, summary: str) -> float:
        v = self.summary.get(summary)
        return float(v) if isinstance(v, int | float) and math.isfinite(v) else math.nan

    def row(self, metric: str, summary: str) -> dict[str, Any]:
        """A flat row for CSV."""
        out: dict[str, Any] = {"trial": self.number, "state": self.state}
        out.update({k: _plain(v) for k, v in self.params.items()})
        for k in ("mean", "std", "min", "median", "max"):
            out[f"{metric}_{k}"] = _round(self.summary.get(k))
        out["repeats"] = self.repeats
        out["seconds"] = self.seconds
        out["note"] = self.note
        return out


def _plain(v: Any) -> Any:
    return (
        v
        if isinstance(v, str | int | float | bool) or v is None
        else yaml.safe_dump(v, default_flow_style=True).strip()
    )


def _round(v: Any) -> Any:
    return round(float(v), 6) if isinstance(v, int | float) and math.isfinite(v) else None


def trial_rows(study: Any, dims: list[Dimension], metric: str) -> list[TrialRow]:
    """Every trial but the queued ones, in trial order."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    again = superseded(trials)
    retried_as = {
        int(t.user_attrs["retry_of"]): t.number for t in trials if "retry_of" in t.user_attrs
    }
    rows = []
    for t in trials:
        if t.state == TrialState.WAITING:
            continue
        attrs = t.user_attrs
        params = decode(dims, dict(t.params or t.system_attrs.get("fixed_params") or {}))
        scores = {k: list(v) for k, v in (attrs.get("scores") or {}).items()}
        values = scores.get(metric, [])
        finite = [float(v) for v in values if v is not None and math.isfinite(v)]
        summary = summarize(finite) if finite else {}
        summary.pop("values", None)
        note = ""
        if t.state == TrialState.PRUNED:
            note = str((attrs.get("pruned") or {}).get("reason", "by the pruner"))
        elif t.state == TrialState.FAIL:
            note = str(attrs.get("error") or "lost (its worker stopped sending heartbeats)")
            if t.number in again:
                note += f"; run again as #{retried_as[t.number]}"
        else:
            errors = [r for r in attrs.get("repeats", []) if r.get("error")]
            if errors:
                note = f"{len(errors)} of {len(values)} repeats failed ({errors[0]['error']})"
        if "retry_of" in attrs and not note:
            note = f"re-run of #{attrs['retry_of']}"
        rows.append(
            TrialRow(
                number=t.number,
                state=STATES.get(t.state.name, t.state.name.lower()),
                params=params,
                values=values,
                summary=summary,
                scores=scores,
                repeats=len(values),
                seconds=attrs.get("seconds"),
                note=note,
                worker=str(attrs.get("worker", "")),
                baseline=dict(attrs.get("baseline") or {}),
                retried_as=retried_as.get(t.number),
                folds=list(attrs.get("folds") or []),
            )
        )
    return rows


def ranked(rows: list[TrialRow], summary: str, maximize: bool) -> list[TrialRow]:
    """Best first: completed trials by objective, then pruned, running, failed."""
    order = {"complete": 0, "pruned": 1, "running": 2, "failed": 3}

    def key(r: TrialRow) -> tuple[int, float, int]:
        v = r.objective(summary)
        v = math.inf if math.isnan(v) else (-v if maximize else v)
        return (order.get(r.state, 4), v, r.number)

    return sorted(rows, key=key)


@dataclass
class TuneResult:
    """The outcome of ``tune``: every trial, ranked, and the best configuration as a spec."""

    spec: Any
    study_name: str
    storage: str  # password hidden
    rows: list[TrialRow]  # ranked, best first
    run_dir: Path
    seconds: float  # this invocation
    study_seconds: float | None  # first trial start to last trial end, all workers
    complete: bool
    workers: int = 1
    # Things the user should know that are not trials (a worker process that failed).
    notes: list[str] = field(default_factory=list)
    # The copy of the box plot written where --plot said (None: none was written).
    plot: Path | None = None

    @property
    def tune(self) -> Any:
        return self.spec.tune

    @property
    def metric(self) -> str:
        return str(self.tune.objective.metric)

    @property
    def summary_kind(self) -> str:
        return str(self.tune.objective.summary)

    @property
    def folds(self) -> int | None:
        """The backtest's folds every trial's scores are pooled over (None: no backtest)."""
        bt = self.spec.evaluate.backtest
        return None if bt is None else int(bt.folds)

    @property
    def pooled(self) -> str:
        """``, pooled over F folds`` where the trials are backtests, else nothing."""
        return "" if self.folds is None else f", pooled over {self.folds} folds"

    @property
    def best(self) -> TrialRow | None:
        return self.rows[0] if self.rows and self.rows[0].state == "complete" else None

    def best_spec(self) -> Any:
        return None if self.best is None else best_spec(self.spec, self.best.params)

    def best_yaml(self) -> str:
        """The best configuration as a complete spec that ``lstmctl run`` accepts."""
        best = self.best
        spec = self.best_spec()
        if best is None or spec is None:
            return ""
        raw = spec.dump()
        raw.pop("tune", None)
        s = best.summary
        head = (
            f"# best of study {self.study_name}: trial #{best.number}, {self.metric} "
            f"{self.summary_kind} {s['mean' if self.summary_kind == 'mean' else 'median']:.4g} "
            f"(std {s['std']:.4g}, min {s['min']:.4g}, max {s['max']:.4g}) over "
            f"{best.repeats} repeats{self.pooled}\n"
            f"# searched: {', '.join(f'{k}={_plain(v)}' for k, v in best.params.items())}\n"
        )
        return head + yaml.safe_dump(raw, sort_keys=False, default_flow_style=None)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.state] = out.get(r.state, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        best = self.best
        spec = self.best_spec()
        best_raw = None
        if spec is not None:
            best_raw = spec.dump()
            best_raw.pop("tune", None)
        return {
            "name": self.spec.name,
            "study": self.study_name,
            "storage": self.storage,
            "strategy": self.tune.strategy,
            "objective": {
                "metric": self.metric,
                "summary": self.summary_kind,
                "direction": self.tune.objective.direction,
                **({"pooled_over_folds": self.folds} if self.folds else {}),
            },
            **self._backtest_json(),
            "repeats_per_trial": self.tune.repeats or self.spec.evaluate.repeats,
            "trials": [
                {
                    "trial": r.number,
                    "state": r.state,
                    "params": r.params,
                    "metrics": {self.metric: {**r.summary, "values": r.values}},
                    "scores": r.scores,
                    "repeats": r.repeats,
                    "seconds": r.seconds,
                    "note": r.note,
                    "worker": r.worker,
                    **({"folds": r.folds} if r.folds else {}),
                }
                for r in self.rows
            ],
            "counts": self.counts(),
            "best": None
            if best is None
            else {
                "trial": best.number,
                "params": best.params,
                "metrics": {self.metric: {**best.summary, "values": best.values}},
                "baselines": best.baseline,
                "spec": best_raw,
            },
            "complete": self.complete,
            "run_dir": str(self.run_dir),
            "seconds": round(self.seconds, 3),
            "study_seconds": None if self.study_seconds is None else round(self.study_seconds, 3),
            "workers": self.workers,
            "lstmctl": __version__,
        }

    def _backtest_json(self) -> dict[str, Any]:
        """The backtest's settings, where every trial is one (its scores pooled over folds)."""
        bt = self.spec.evaluate.backtest
        return {} if bt is None else {"backtest": bt.model_dump(mode="json")}

    def csv_rows(self) -> list[dict[str, Any]]:
        keys: list[str] = []
        rows = [r.row(self.metric, self.summary_kind) for r in self.rows]
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        return [{k: row.get(k) for k in keys} for row in rows]


def study_span(study: Any) -> float | None:
    """Seconds from the first trial's start to the last trial's end (all workers)."""
    starts, ends = [], []
    for t in study.get_trials(deepcopy=False):
        if t.datetime_start is not None:
            starts.append(t.datetime_start)
        if t.datetime_complete is not None:
            ends.append(t.datetime_complete)
    if not starts or not ends:
        return None
    return (max(ends) - min(starts)).total_seconds()
