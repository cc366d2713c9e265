"""Lesson 13's experiment: does updating a model as test observations arrive help?

After the repeats of a run are fitted, each is walked forward over the test
windows once per scheme. Before forecasting test window t, the model has
been updated with every window whose targets are observed by then:

* ``none``: never updated (the run's own forecasts);
* ``fine-tune``: ``epochs`` more epochs on the newly observed window only;
* ``fine-tune-all``: ``epochs`` more epochs on every window seen so far
  (training, validation and observed test windows) — the course's scheme;
* ``refit``: a fresh fit (seed + i, the spec's epochs) on every window seen.

Forecasts are scored like the run's, in the data's units. Updates train all
repeats at once through the compiled trainer (``initial_weights``), so the
experiment needs ``backend: auto``; a fine-tune starts a fresh optimizer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.errors import SpecError
from lstmctl.evaluation.metrics import score
from lstmctl.evaluation.summary import summarize
from lstmctl.spec import Spec
from lstmctl.spec.derive import update_spec, update_step_spec
from lstmctl.training.result import FitResult


@dataclass
class UpdateComparison:
    """Scores per scheme and repeat, and their summaries."""

    schemes: list[str]
    epochs: int
    metrics: list[str]
    # scheme -> one dict of metric values per repeat (NaN where it failed)
    scores: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {
            s: {m: summarize([r[m] for r in rows]) for m in self.metrics}
            for s, rows in self.scores.items()
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "schemes": self.summary(),
            "seconds": round(self.seconds, 3),
        }


def check_update(spec: Spec) -> None:
    """Refuse an update experiment the spec cannot run (``validate`` calls this too)."""
    if spec.evaluate.update is not None and spec.backend != "auto":
        raise SpecError(
            "evaluate.update trains the updates with the compiled trainer: use backend: auto",
            where="evaluate.update",
        )


def evaluate_updates(
    spec: Spec, data: Prepared, fits: list[FitResult], progress: Any = None
) -> UpdateComparison:
    """Walk every fitted repeat forward over the test windows under each update scheme."""
    up = spec.evaluate.update
    assert up is not None
    start = time.perf_counter()
    check_update(spec)
    metrics = [str(m) for m in spec.evaluate.metrics]
    out = UpdateComparison(list(up.schemes), up.epochs, metrics)
    ok = [i for i, f in enumerate(fits) if f.error is None and f.weights]
    if not ok or not len(data.X_test):
        return out
    forecaster = _Forecaster(spec, data)
    for scheme in up.schemes:
        if scheme == "none":
            preds = np.stack([fits[i].test_pred for i in ok])
            failed = np.zeros(len(ok), dtype=bool)
        else:
            preds, failed = _walk(spec, data, [fits[i] for i in ok], scheme, up.epochs, forecaster)
        rows: list[dict[str, float]] = [{m: float("nan") for m in metrics} for _ in fits]
        for j, i in enumerate(ok):
            if not failed[j]:
                rows[i] = score(metrics, data.actual_test, data.inverse(preds[j]))
        out.scores[scheme] = rows
    out.seconds = time.perf_counter() - start
    return out


def _walk(
    spec: Spec,
    data: Prepared,
    fits: list[FitResult],
    scheme: str,
    epochs: int,
    forecaster: _Forecaster,
) -> tuple[np.ndarray, np.ndarray]:
    from lstmctl.training.updates import fit_windows

    horizon = data.horizon
    n_test = len(data.X_test)
    base_X = np.concatenate([data.X_train, data.X_val])
    base_y = np.concatenate([data.y_train, data.y_val])
    weights = [f.weights for f in fits]
    failed = np.zeros(len(fits), dtype=bool)
    preds = np.stack([f.test_pred for f in fits]).copy()  # steps before any update
    tune = update_spec(spec, len(fits), scheme, epochs)
    seeds = [f.seed for f in fits]
    for t in range(horizon, n_test):
        # Test window t - horizon has just had its last target observed.
        seen = t - horizon + 1
        if scheme == "fine-tune":
            X, y = data.X_test[seen - 1 : seen], data.y_test[seen - 1 : seen]
        else:
            X = np.concatenate([base_X, data.X_test[:seen]])
            y = np.concatenate([base_y, data.y_test[:seen]])
        step_spec = update_step_spec(tune, len(X), seeds[0])
        initial = None if scheme == "refit" else weights
        results = fit_windows(step_spec, data, X, y, initial)
        for j, r in enumerate(results):
            if r.error is not None:
                failed[j] = True
            else:
                weights[j] = r.weights
        history = np.concatenate([base_X, data.X_test[:t]])
        preds[:, t] = forecaster(weights, history, data.X_test[t])
    return preds, failed


class _Forecaster:
    """Forecast one window with every replica's weights, after replaying the history.

    One compiled program for every step of the walk: the history is padded to
    its longest length and the padding skipped, so stateful models see exactly
    the windows before the one forecast (from zero states, as evaluation does).
    """

    def __init__(self, spec: Spec, data: Prepared) -> None:
        import jax

        from lstmctl.models.registry import build_model
        from lstmctl.training.checks import shapes_for
        from lstmctl.training.network import Network, replay

        model = build_model(spec.model, shapes_for(spec, data, state_mode="explicit"))
        self.model = model
        net = Network(model)
        self.n_max = len(data.X_train) + len(data.X_val) + len(data.X_test)

        def one(tr: Any, nt: Any, hist: Any, valid: Any, x: Any) -> Any:
            if not net.n_states:
                return net.call(tr, nt, x[None], [], False)[0][0]
            states, _ = replay(net, tr, nt, hist, valid=valid)
            return net.call(tr, nt, x[None], states, False)[0][0]

        self.fn = jax.jit(jax.vmap(one, in_axes=(0, 0, None, None, None)))

    def __call__(self, weights: list[list[np.ndarray]], history: np.ndarray, x: np.ndarray) -> Any:
        import jax.numpy as jnp

        from lstmctl.training.replicas import stack_weights

        tr, nt = stack_weights(self.model, weights)
        pad = self.n_max - len(history)
        hist = np.concatenate([history, np.zeros((pad, *history.shape[1:]), history.dtype)])
        valid = np.arange(self.n_max) < len(history)
        out = self.fn(
            [jnp.asarray(a) for a in tr],
            [jnp.asarray(a) for a in nt],
            jnp.asarray(hist, jnp.float32),
            jnp.asarray(valid),
            jnp.asarray(x, jnp.float32),
        )
        return np.asarray(out)
