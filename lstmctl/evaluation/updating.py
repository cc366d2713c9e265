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

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.errors import SpecError
from lstmctl.evaluation.metrics import score
from lstmctl.evaluation.summary import summarize
from lstmctl.spec import Spec
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
    from lstmctl.training.fused import fit_fused

    horizon = data.horizon
    n_test = len(data.X_test)
    base_X = np.concatenate([data.X_train, data.X_val])
    base_y = np.concatenate([data.y_train, data.y_val])
    weights = [f.weights for f in fits]
    failed = np.zeros(len(fits), dtype=bool)
    preds = np.stack([f.test_pred for f in fits]).copy()  # steps before any update
    tune = spec.model_copy(deep=True)
    tune.evaluate.repeats = len(fits)
    tune.evaluate.update = None
    tune.train.early_stopping = None  # the updates watch no validation rows
    if scheme != "refit":
        tune.train.epochs = epochs
    seeds = [f.seed for f in fits]
    for t in range(horizon, n_test):
        # Test window t - horizon has just had its last target observed.
        seen = t - horizon + 1
        if scheme == "fine-tune":
            X, y = data.X_test[seen - 1 : seen], data.y_test[seen - 1 : seen]
        else:
            X = np.concatenate([base_X, data.X_test[:seen]])
            y = np.concatenate([base_y, data.y_test[:seen]])
        step_spec = tune.model_copy(deep=True)
        if step_spec.model.stateful:
            step_spec.train.batch_size = min(step_spec.train.batch_size, len(X))
        step_spec.seed = seeds[0]
        part = dataclasses.replace(
            data,
            X_train=X,
            y_train=y,
            X_val=X[:0],
            y_val=y[:0],
            X_test=X[:0],
            y_test=y[:0],
        )
        results = fit_fused(step_spec, part, initial_weights=None if scheme == "refit" else weights)
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
        import jax.numpy as jnp

        from lstmctl.models.registry import build_model
        from lstmctl.training.keras_fit import shapes_for

        model = build_model(spec.model, shapes_for(spec, data, state_mode="explicit"))
        self.model = model
        self.n_states = len(model.inputs) - 1
        sizes = [tuple(int(d) for d in t.shape[1:]) for t in model.inputs[1:]]
        where_t = {id(v): k for k, v in enumerate(model.trainable_variables)}
        where_n = {id(v): k for k, v in enumerate(model.non_trainable_variables)}
        self.slots = [
            ("t", where_t[id(w)]) if id(w) in where_t else ("n", where_n[id(w)])
            for w in model.weights
        ]
        self.nt_default = [np.asarray(v.value) for v in model.non_trainable_variables]
        self.n_max = len(data.X_train) + len(data.X_val) + len(data.X_test)
        n_states = self.n_states

        def one(tr: Any, nt: Any, hist: Any, valid: Any, x: Any) -> Any:
            if not n_states:
                return model.stateless_call(tr, nt, x[None], training=False)[0][0]

            def step(st: list[Any], inp: Any) -> tuple[list[Any], None]:
                xw, ok = inp
                out, _ = model.stateless_call(tr, nt, [xw[None], *st], training=False)
                return [jnp.where(ok, a, b) for a, b in zip(out[1:], st, strict=True)], None

            zeros = [jnp.zeros((1, *s), jnp.float32) for s in sizes]
            st, _ = jax.lax.scan(step, zeros, (hist, valid))
            out, _ = model.stateless_call(tr, nt, [x[None], *st], training=False)
            return out[0][0]

        self.fn = jax.jit(jax.vmap(one, in_axes=(0, 0, None, None, None)))

    def __call__(self, weights: list[list[np.ndarray]], history: np.ndarray, x: np.ndarray) -> Any:
        import jax.numpy as jnp

        n_tr = sum(1 for kind, _ in self.slots if kind == "t")
        tr: list[Any] = [None] * n_tr
        nt = [np.broadcast_to(v, (len(weights), *v.shape)) for v in self.nt_default]
        for j, (kind, k) in enumerate(self.slots):
            stacked = np.stack([w[j] for w in weights])
            if kind == "t":
                tr[k] = stacked
            else:
                nt[k] = stacked
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
