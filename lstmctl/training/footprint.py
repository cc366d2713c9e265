"""What fitting a spec's repeats holds in memory, estimated before Keras is imported.

A model too big for the machine does not fail cleanly once allocated: XLA may
abort the whole process (``Check failed: buffer_.IsConcrete()``, exit 134).
So ``validate`` and every fit first compare this estimate with the machine's
memory (:mod:`lstmctl.memory`) and refuse, naming the key to shrink.

Per replica: the weights, their gradients and the optimizer's slots (Adam:
two moments), plus the best weights kept for early stopping's restore; the
compiled trainer (``backend: auto``) holds a block of repeats at once, the
Keras path one per worker. Then the learning curves, and the training data
copied for the trainer.
"""

from __future__ import annotations

from lstmctl.data.prepared import Prepared
from lstmctl.data.window_index import held_nbytes
from lstmctl.memory import check_fits, culprit, fits
from lstmctl.models.registry import Shapes
from lstmctl.models.size import parameter_count
from lstmctl.spec import Spec

# Float32 copies of the weights an optimizer keeps beside them (unknown names: Adam's 2).
_SLOTS = {"sgd": 0, "rmsprop": 1, "adagrad": 1, "lion": 1, "adam": 2, "adamw": 2, "nadam": 2}
# Replicas the compiled trainer fits as one program (training.fused.BLOCK; more are
# fitted block after block). Not imported: the trainer imports this module.
FUSED_BLOCK = 1024
# Per epoch and repeat: loss and val_loss on the device (float32), in NumPy and as
# the Python floats of the history.
_CURVE_BYTES = 2 * (4 + 8 + 32)


def check_footprint(spec: Spec, data: Prepared) -> None:
    """Raise a SpecError when fitting ``spec`` on ``data`` needs more memory than there is."""
    shapes = shapes_of(data)
    # Windows by index (a panel's) hold their shared rows once, not a copy per window.
    held = held_nbytes((data.X_train, data.y_train, data.X_val, data.y_val))
    need = fit_bytes(spec, shapes, held)
    if fits(need):
        return
    keys = [("model", k) for k, v in spec.model if _is_size(v)]
    keys += [("evaluate", "repeats"), ("train", "epochs"), ("train", "jobs")]
    key = culprit(lambda s: fit_bytes(s, shapes, held), spec, keys)
    replicas = _replicas(spec)
    what = (
        f"{replicas} model{'s' if replicas > 1 else ''} of about "
        f"{parameter_count(spec.model, shapes):,} weights (with gradients and "
        f"{spec.train.optimizer}'s state) and {spec.evaluate.repeats} x {spec.train.epochs} "
        "epochs of learning curves"
    )
    check_fits(need, ".".join(key), what)


def fit_bytes(spec: Spec, shapes: Shapes, data_bytes: int = 0) -> int:
    """About how many bytes fitting ``spec``'s repeats holds at its peak."""
    copies = 2 + _SLOTS.get(spec.train.optimizer.lower(), 2)  # weights, gradients, slots
    es = spec.train.early_stopping
    if es is not None and es.restore_best:
        copies += 1
    weights = parameter_count(spec.model, shapes)
    curves = spec.evaluate.repeats * spec.train.epochs * _CURVE_BYTES
    return _replicas(spec) * copies * 4 * weights + curves + data_bytes


def shapes_of(data: Prepared) -> Shapes:
    """What the builders are told about ``data`` (the sizes that count weights)."""
    return Shapes(
        lookback=data.lookback,
        n_inputs=int(data.X_train.shape[2]),
        horizon=data.horizon,
        n_targets=int(data.y_train.shape[2]),
        **data.shape_hints(),
    )


def _replicas(spec: Spec) -> int:
    # The compiled trainer (backend auto, see training.fit.trainer_name) fits the
    # repeats at once, by blocks; the Keras path one at a time in each of train.jobs workers.
    repeats = spec.evaluate.repeats
    return min(repeats, FUSED_BLOCK if spec.backend == "auto" else spec.train.jobs)


def _is_size(value: object) -> bool:
    if isinstance(value, list):
        return all(_is_size(v) for v in value)
    return isinstance(value, int) and not isinstance(value, bool)
