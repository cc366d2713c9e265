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
from lstmctl.spec import EvaluateSpec, ModelSpec, Spec, TrainSpec


def settle_task(spec: Spec, data: Prepared) -> None:
    """Replace the regression defaults a classification problem cannot use; refuse misfits.

    For a classification problem the spec's regression defaults become:
    metrics ``[rmse, mae]`` -> ``accuracy`` (and ``sequence_accuracy`` for
    several outputs per sample), baseline ``persistence`` -> ``majority``,
    output ``linear`` -> ``softmax`` (``sigmoid`` for two classes in one
    column), loss ``mse`` -> the matching cross-entropy. They are told apart
    by value, because specs come back with every default filled in (run
    directories, tuning trials, saved models); anything else the spec says
    is kept, or refused when it cannot score class labels.
    """
    ev = spec.evaluate
    if data.task != "classification":
        wrong = [m for m in ev.metrics if m in CLASSIFICATION_METRICS]
        if wrong:
            raise SpecError(
                f"{wrong[0]} scores class labels but this problem forecasts real values; "
                "use rmse, mae or mape",
                where="evaluate.metrics",
            )
        if ev.baseline == "majority":
            raise SpecError(
                "the majority baseline needs class labels but this problem forecasts real "
                "values; use persistence",
                where="evaluate.baseline",
            )
        if ev.baseline == "persistence" and not np.isfinite(data.persistence_test).all():
            raise SpecError(
                "this problem has no persistence forecast; use baseline: none",
                where="evaluate.baseline",
            )
        return
    defaults = EvaluateSpec()
    if ev.metrics == defaults.metrics:
        ev.metrics = ["accuracy", "sequence_accuracy"] if data.horizon > 1 else ["accuracy"]
    wrong = [m for m in ev.metrics if m not in CLASSIFICATION_METRICS]
    if wrong:
        raise SpecError(
            f"{wrong[0]} measures errors of real values but this problem predicts class "
            f"labels; use {' or '.join(CLASSIFICATION_METRICS)}",
            where="evaluate.metrics",
        )
    if ev.baseline == "persistence":
        ev.baseline = "majority"  # persistence needs real values
    binary = int(data.y_train.shape[2]) == 1
    if spec.model.output_activation == ModelSpec().output_activation:
        spec.model.output_activation = "sigmoid" if binary else "softmax"
    if spec.train.loss == TrainSpec().loss:
        spec.train.loss = "binary_crossentropy" if binary else "categorical_crossentropy"


def majority_forecast(data: Prepared) -> np.ndarray:
    """Class indices ``(n_test, horizon, 1)``: at each position, the training targets' mode."""
    labels = data.inverse(data.y_train) if len(data.y_train) else np.zeros((0, data.horizon, 1))
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
