"""Optional MLflow tracking: params, per-repeat and summary metrics, the run directory.

Turned on by ``tracking: {mlflow: URI}`` in the spec or ``lstmctl run
--mlflow``; needs the extra (``pip install 'lstmctl[mlflow]'``). A URI that is
a plain path (the default ``mlruns``) is a local file store; anything else
(``http://...``, ``sqlite:///...``, ``databricks``) goes to MLflow as is.

One lstmctl run is one MLflow run, named after its run directory, in the
experiment named after the spec. It gets every resolved spec key as a param
(``model.units``), each metric's summary (``rmse_mean``, ``rmse_std``, ...),
the baselines and skill, each repeat's score as a step of the metric
(``rmse`` at step 1..R), and the whole run directory as artifacts.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from lstmctl.errors import RunError, UsageError
from lstmctl.rundir import write_json
from lstmctl.spec import Spec
from lstmctl.spec.derive import derive

log = logging.getLogger("lstmctl")

DEFAULT_URI = "mlruns"
TRACKING_FILE = "tracking.json"
_REMOTE = ("http://", "https://", "file:", "sqlite:", "postgresql", "mysql", "mssql", "databricks")
# MLflow's own limits per log_batch call.
_MAX_PARAMS, _MAX_METRICS = 100, 1000


def enabled(spec: Spec) -> bool:
    return spec.tracking.mlflow is not None


def tracking_uri(value: str) -> str:
    """A tracking URI for MLflow: a plain path becomes an absolute ``file:`` URI."""
    if value.startswith(_REMOTE):
        return value
    return Path(value).expanduser().resolve().as_uri()


def require_mlflow(spec: Spec) -> None:
    """UsageError now, before any training, when tracking is asked for but MLflow is missing."""
    if not enabled(spec):
        return
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise UsageError(
            "MLflow tracking needs MLflow: pip install 'lstmctl[mlflow]' "
            "(or drop --mlflow / tracking.mlflow)",
            where="tracking.mlflow",
        ) from None


def flat_params(data: Any, prefix: str = "") -> dict[str, str]:
    """Nested spec data as dotted keys: ``{"model": {"units": 4}}`` -> ``{"model.units": "4"}``."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flat_params(v, f"{prefix}{k}."))
    else:
        # MLflow keeps at most a few hundred characters of a param's value.
        out[prefix.rstrip(".")] = str(data)[:500]
    return out


def run_metrics(results: dict[str, Any]) -> list[tuple[str, float, int]]:
    """(key, value, step) triples for MLflow from a run's results JSON."""
    out: list[tuple[str, float, int]] = []

    def add(key: str, value: Any, step: int = 0) -> None:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return
        if math.isfinite(v):  # failed repeats are missing, not NaN
            out.append((key, v, step))

    for m, s in (results.get("metrics") or {}).items():
        for stat in ("mean", "std", "min", "median", "max"):
            add(f"{m}_{stat}", s.get(stat))
    for row in results.get("per_repeat") or []:
        if row.get("error"):
            continue
        for m in results.get("metrics") or {}:
            add(m, row.get(m), int(row["repeat"]))
        add("epochs", row.get("epochs"), int(row["repeat"]))
    for base, scores in (results.get("baselines") or {}).items():
        for m, v in scores.items():
            add(f"{base}_{m}", v)
    for base, scores in (results.get("skill") or {}).items():
        for m, v in scores.items():
            add(f"skill_{base}_{m}", v)
    for m, v in (results.get("ensemble") or {}).items():
        add(f"ensemble_{m}", v)  # its metrics, member count and CRPS (per_step is a dict)
    for level, scores in (results.get("intervals") or {}).items():
        pct = f"{float(level) * 100:g}"
        for k, v in scores.items():
            add(f"interval_{pct}_{k}", v)
    add("verdict_p", (results.get("significance") or {}).get("p"))
    add("repeats", results.get("repeats"))
    add("seconds", results.get("seconds"))
    return out


def log_run(result: Any) -> str:
    """Log a finished run to MLflow; returns the MLflow run id (RunError on failure)."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    spec: Spec = result.spec
    assert spec.tracking.mlflow is not None
    uri = tracking_uri(spec.tracking.mlflow)
    if uri.startswith("file:"):
        # MLflow 3 refuses its file store unless asked for explicitly; a local
        # mlruns/ folder is exactly what was asked for here.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    run_dir = Path(result.run_dir)
    results = result.to_json()
    experiment = spec.tracking.experiment or spec.name
    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        exp_id = found.experiment_id if found else client.create_experiment(experiment)
        run = client.create_run(
            exp_id,
            run_name=run_dir.name,
            tags={
                "lstmctl.arch": spec.model.arch,
                "lstmctl.run_dir": str(run_dir.resolve()),
                "lstmctl.trainer": str(results.get("trainer")),
                "lstmctl.complete": str(results.get("complete")),
            },
        )
        run_id = run.info.run_id
        # The id goes into the run directory first, so the artifacts carry it too.
        write_json(
            run_dir / TRACKING_FILE,
            {"mlflow": {"uri": uri, "experiment": experiment, "run_id": run_id}},
        )
        params = [Param(k, v) for k, v in flat_params(spec.dump()).items()]
        for i in range(0, len(params), _MAX_PARAMS):
            client.log_batch(run_id, params=params[i : i + _MAX_PARAMS])
        now = _millis()
        metrics = [Metric(k, v, now, step) for k, v, step in run_metrics(results)]
        for i in range(0, len(metrics), _MAX_METRICS):
            client.log_batch(run_id, metrics=metrics[i : i + _MAX_METRICS])
        client.log_batch(run_id, tags=[RunTag("lstmctl.version", str(results.get("lstmctl")))])
        client.log_artifacts(run_id, str(run_dir))
        client.set_terminated(run_id, "FINISHED")
    except Exception as e:  # MLflow raises many kinds: store, network, permissions
        raise RunError(f"MLflow logging failed: {e}", where=f"tracking.mlflow {uri}") from e
    log.info("MLflow: run %s in experiment %r at %s", run_id, experiment, uri)
    return str(run_id)


def track_run(result: Any) -> str | None:
    """``log_run`` when the spec asks for tracking; a failure is a warning, not a lost run."""
    if not enabled(result.spec):
        return None
    try:
        return log_run(result)
    except RunError as e:
        log.warning("warning: %s; the run directory %s has everything", e, result.run_dir)
        return None


def _millis() -> int:
    return int(time.time() * 1000)


def with_mlflow(spec: Spec) -> Spec:
    """The spec with MLflow tracking on (``--mlflow``): its own URI, else ``mlruns``."""
    if enabled(spec):
        return spec
    return derive(spec, {"tracking.mlflow": DEFAULT_URI}, validate=False)
