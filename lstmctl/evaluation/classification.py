"""Scoring class labels: the task's defaults, and the majority-class baseline.

A classification problem is scored with ``accuracy`` (the share of output
labels that are right) and, when a sample has several outputs,
``sequence_accuracy`` (the share of samples with every output right). Its
baseline predicts, at every output position, the class most frequent there
in the training targets: the skill a model gets for free.
"""

from __future__ import annotations

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.errors import SpecError
from lstmctl.evaluation.metrics import CLASSIFICATION_METRICS, score
from lstmctl.spec import Spec
from lstmctl.spec.derive import for_task


def settle_task(spec: Spec, data: Prepared) -> Spec:
    """The spec as it scores ``data``: a classification problem's defaults settled.

    What the data resolved (its task, horizon, number of class columns and
    whether it has a persistence forecast) decides; the rules are
    :func:`lstmctl.spec.derive.for_task`'s. Returns a new spec; raises a
    SpecError for settings that cannot score the data.
    """
    return for_task(
        spec,
        task=data.task,
        horizon=data.horizon,
        binary=int(data.y_train.shape[2]) == 1,
        has_persistence=bool(np.isfinite(data.persistence_test).all()),
    )


def majority_forecast(data: Prepared) -> np.ndarray:
    """Class indices ``(n_test, horizon, 1)``: at each position, the training targets' mode."""
    y = np.asarray(data.y_train)
    labels = data.inverse(y) if len(y) else np.zeros((0, data.horizon, 1))
    n_classes = max(len(data.classes), 2)
    mode = np.zeros(labels.shape[1:], dtype=np.float64)
    for pos in range(labels.shape[1]):
        counts = np.bincount(labels[:, pos, 0].astype(np.int64), minlength=n_classes)
        mode[pos, 0] = float(np.argmax(counts))  # ties: the lowest class index
    return np.broadcast_to(mode, data.actual_test.shape).copy()


def majority_scores(spec: Spec, data: Prepared) -> dict[str, float]:
    """The majority baseline's scores on exactly the test labels the models are scored on."""
    if data.task != "classification":
        raise SpecError(
            "the majority baseline needs class labels but this data has real-valued "
            "targets; use persistence",
            where="evaluate.baseline",
        )
    names = [m for m in spec.evaluate.metrics if m in CLASSIFICATION_METRICS]
    return score(names, data.actual_test, majority_forecast(data))
