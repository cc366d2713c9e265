"""The plain Keras path: one ``model.fit`` per repeat (``backend: tensorflow``).

This is the five-step life-cycle of lesson 4 — define, compile, fit,
evaluate, predict — exactly as a reader of the course writes it, kept so that
a user who must stay on TensorFlow can, and as the reference the compiled
trainer is checked against. A panel's windows, by index, reach ``model.fit``
and ``model.predict`` one gathered batch at a time (:mod:`.keras_batches`),
never as all the windows' copies.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from typing import Any

import numpy as np

from lstmctl import signals
from lstmctl.data.prepared import Prepared
from lstmctl.data.window_index import IndexedWindows
from lstmctl.memory import out_of_memory
from lstmctl.models.registry import build_model
from lstmctl.spec import Spec
from lstmctl.training import lookup
from lstmctl.training.batches import trim_for_stateful
from lstmctl.training.checks import check_windows, shapes_for
from lstmctl.training.keras_batches import window_batches
from lstmctl.training.result import FitResult, Progress, failed_fit, non_finite_loss

log = logging.getLogger("lstmctl")


def _reset_states(model: Any) -> None:
    for layer in model.layers:
        if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
            layer.reset_state()


def _callbacks(spec: Spec, repeat: int, progress: Progress | None) -> list[Any]:
    import keras

    epochs = spec.train.epochs
    stateful = spec.model.stateful

    class Hooks(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if stateful:  # the course resets state at the start of every epoch
                _reset_states(self.model)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if progress is not None:
                progress(repeat, epoch + 1, epochs)

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            # A signal whose exception was dropped (lstmctl.signals) stops the fit here.
            signals.check()

    cbs: list[Any] = [Hooks(), keras.callbacks.TerminateOnNaN()]
    es = spec.train.early_stopping
    if es is not None:
        cbs.append(
            keras.callbacks.EarlyStopping(
                monitor=es.monitor,
                patience=es.patience,
                min_delta=es.min_delta,
                restore_best_weights=es.restore_best,
            )
        )
    return cbs


def _joined(a: Any, b: Any) -> IndexedWindows | None:
    """Windows ``a`` then ``b`` as one IndexedWindows, when both are by index over the same rows."""
    if not (isinstance(a, IndexedWindows) and isinstance(b, IndexedWindows)):
        return None
    if a.rows is not b.rows or a.length != b.length:
        return None
    return IndexedWindows(a.rows, np.concatenate([a.starts, b.starts]), a.length)


def _predict_ahead(spec: Spec, data: Prepared, model: Any) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts of the validation and of the test windows."""
    n_val = len(data.X_val)
    if not spec.model.stateful:
        both = _joined(data.X_val, data.X_test)
        if both is not None:
            # A panel's windows, by index: each batch is gathered from the rows.
            ahead = window_batches(both, None, 256)
            out = np.asarray(model.predict(ahead, verbose=0))
        else:
            ahead = np.concatenate([data.X_val, data.X_test]) if n_val else np.asarray(data.X_test)
            out = np.asarray(model.predict(ahead, batch_size=256, verbose=0))
        return out[:n_val], out[n_val:]
    # Walk forward with a batch-1 twin: replay the training windows so the state
    # holds the history, then forecast the validation and the test windows.
    twin = build_model(spec.model, shapes_for(spec, data, batch=1))
    twin.set_weights(model.get_weights())
    _reset_states(twin)
    history = np.concatenate([data.X_train, data.X_val, data.X_test])
    out = np.asarray(twin.predict(history, batch_size=1, verbose=0))
    first = len(data.X_train)
    return out[first : first + n_val], out[first + n_val :]


def fit_one_or_fail(
    spec: Spec, data: Prepared, repeat: int, progress: Progress | None = None
) -> FitResult:
    """:func:`fit_one`; running out of memory fails this repeat alone (its ``error`` says so)."""
    start = time.perf_counter()
    try:
        return fit_one(spec, data, repeat, progress)
    except Exception as e:  # MemoryError, TensorFlow's or XLA's resource-exhausted error
        error = out_of_memory(e)
        if error is None:
            raise
    gc.collect()  # the failed model's buffers go before the next repeat allocates its own
    log.info("repeat %d failed, the run goes on: %s", repeat + 1, error)
    return failed_fit(spec.seed + repeat, error, time.perf_counter() - start, data)


def fit_one(spec: Spec, data: Prepared, repeat: int, progress: Progress | None = None) -> FitResult:
    """Fit and predict one repeat, seeded with ``spec.seed + repeat``."""
    # A signal raised while TensorFlow traces or runs a step can crash the process
    # (seen as SIGSEGV on Ctrl-C): here it is only noted, and raised at the next
    # batch end by the callback, or when the repeat is done.
    with signals.polled():
        return _fit_one(spec, data, repeat, progress)


def _fit_arrays(spec: Spec, data: Prepared, model: Any, callbacks: list[Any]) -> Any:
    """``model.fit`` on the windows as arrays, as the course does."""
    X, y = np.asarray(data.X_train), np.asarray(data.y_train)
    if spec.model.stateful:
        X, y = trim_for_stateful(X, y, spec.train.batch_size)
    val = (np.asarray(data.X_val), np.asarray(data.y_val)) if len(data.X_val) else None
    if val is not None and spec.model.stateful:
        # Validation batches must be full too.
        val = trim_for_stateful(*val, spec.train.batch_size)
        val = val if len(val[0]) else None
    return model.fit(
        X,
        y,
        epochs=spec.train.epochs,
        batch_size=spec.train.batch_size,
        shuffle=bool(spec.train.shuffle),
        validation_data=val,
        callbacks=callbacks,
        verbose=0,
    )


def _fit_indexed(
    spec: Spec,
    X: IndexedWindows,
    y: IndexedWindows,
    val: tuple[Any, Any],
    seed: int,
    model: Any,
    callbacks: list[Any],
) -> Any:
    """``model.fit`` on windows by index (a panel's): each batch is gathered from the rows,
    so the windows are never all copied (``lookback`` times the rows' memory)."""
    batch, epochs = spec.train.batch_size, spec.train.epochs
    shuffle = seed if spec.train.shuffle else None
    train = window_batches(X, y, batch, epochs=epochs, seed=shuffle)
    X_val, y_val = val
    validation: Any = None
    val_batch = None  # a PyDataset has its own batches
    if len(X_val) and isinstance(X_val, IndexedWindows) and isinstance(y_val, IndexedWindows):
        validation = window_batches(X_val, y_val, batch)
    elif len(X_val):
        validation, val_batch = (np.asarray(X_val), np.asarray(y_val)), batch
    return model.fit(
        train,
        epochs=epochs,
        # The dataset holds every epoch's batches in sequence (see keras_batches).
        steps_per_epoch=math.ceil(len(X) / batch),
        shuffle=False,
        validation_data=validation,
        validation_batch_size=val_batch,
        callbacks=callbacks,
        verbose=0,
    )


def _fit_one(spec: Spec, data: Prepared, repeat: int, progress: Progress | None) -> FitResult:
    import keras

    check_windows(spec, data)
    seed = spec.seed + repeat
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    model = build_model(spec.model, shapes_for(spec, data))
    tspec = spec.train
    model.compile(
        optimizer=lookup.optimizer(tspec.optimizer, tspec.learning_rate),
        loss=lookup.loss(tspec.loss),
    )
    callbacks = _callbacks(spec, repeat, progress)
    X, y = data.X_train, data.y_train
    if isinstance(X, IndexedWindows) and isinstance(y, IndexedWindows) and not spec.model.stateful:
        val = (data.X_val, data.y_val)
        fit = _fit_indexed(spec, X, y, val, seed, model, callbacks)
    else:  # one series' windows: the course's arrays, exactly as before
        fit = _fit_arrays(spec, data, model, callbacks)
    history = {k: [float(x) for x in v] for k, v in fit.history.items()}
    losses = history.get("loss", [])
    bad = next((k for k, x in enumerate(losses) if not math.isfinite(x)), None)
    if not losses or bad is not None:
        # TerminateOnNaN stopped the fit in the epoch whose loss is not finite.
        error = "no epoch was run" if bad is None else non_finite_loss(losses[bad], bad + 1)
        return FitResult(
            seed=seed,
            history=history,
            test_pred=np.empty((0,)),
            seconds=time.perf_counter() - start,
            error=error,
            epochs_run=len(losses),
        )
    val_pred, pred = _predict_ahead(spec, data, model)
    return FitResult(
        seed=seed,
        history=history,
        test_pred=pred,
        val_pred=val_pred,
        seconds=time.perf_counter() - start,
        weights=[np.asarray(w) for w in model.get_weights()],
        epochs_run=len(losses),
    )
