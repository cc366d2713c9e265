"""What training refuses, decided from the spec and the data's shapes alone (no Keras).

``validate`` calls :func:`check_training`, so a spec that ``run`` would
reject fails there, before anything trains, with the same error; the
trainers and builders call the same checks, so the two cannot drift apart.
"""

from __future__ import annotations

from lstmctl.data.prepared import Prepared
from lstmctl.errors import DataError, SpecError
from lstmctl.models.registry import Shapes, check_model
from lstmctl.spec import Spec


def shapes_for(
    spec: Spec, data: Prepared, state_mode: str = "native", batch: int | None = None
) -> Shapes:
    """The Shapes a builder gets for this spec and data."""
    stateful = spec.model.stateful
    return Shapes(
        lookback=data.lookback,
        n_inputs=int(data.X_train.shape[2]),
        horizon=data.horizon,
        n_targets=int(data.y_train.shape[2]),
        batch_size=(batch or spec.train.batch_size) if stateful else None,
        mask_value=data.mask_value,
        state_mode=state_mode,
        **data.shape_hints(),
    )


def check_windows(spec: Spec, data: Prepared) -> None:
    """Refuse training windows the trainers cannot batch, and a monitor with nothing to watch."""
    n, batch = len(data.X_train), spec.train.batch_size
    if spec.model.stateful and n < batch:
        # Every batch of a stateful model is full (the oldest windows are trimmed).
        raise SpecError(
            f"a stateful model needs at least batch_size={batch} training windows, found {n}",
            where="train.batch_size",
        )
    if n == 0:
        raise DataError("there are no training windows", where="data.split")
    es = spec.train.early_stopping
    if es is not None and es.monitor == "val_loss" and not len(data.X_val):
        raise SpecError(
            "train.early_stopping monitors val_loss but the data has no validation windows",
            where="train.early_stopping.monitor",
        )


def check_training(spec: Spec, data: Prepared) -> None:
    """Raise what building the model or fitting it on ``data`` would, without doing either."""
    check_model(spec.model, shapes_for(spec, data))
    check_windows(spec, data)
