"""One run directory read back: its results, spec, state and the rows of its views.

Everything comes from the files a run wrote (``results.json``, ``spec.yaml``),
so a record survives upgrades and works on folders copied from another machine.
A tune study reads back as its best trial's scores.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np


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
            row.update({f"{metric}_{k}": finite_float(summary.get(k)) for k in _STATS})
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
            "mean": finite_float(s.get("mean")),
            "std": finite_float(s.get("std")),
            "kind": self.kind,
            "repeats": self.repeats,
            "trials": len(self.trials) if self.kind == "tune" else None,
            "seconds": finite_float(self.results.get("seconds")),
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
    v = np.asarray([x for x in (finite_float(x) for x in values) if x is not None], dtype=float)
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


def finite_float(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
