"""Everything ``run`` would refuse in a spec and its data, found before anything trains.

``validate`` is this check; ``run`` makes it before its run directory
exists, and ``compare:`` for every variant before the first one trains, so
a spec or data problem is one typed error (exit 2) with nothing started and
nothing left behind. No Keras, TensorFlow or JAX is imported: the
architectures' checks and the trainers' checks read shapes only.
"""

from __future__ import annotations

from typing import NamedTuple

from lstmctl.data.prepared import Prepared
from lstmctl.spec import Spec


class Ready(NamedTuple):
    """A spec as it runs on its data (a problem's task settled), and that data prepared."""

    spec: Spec
    data: Prepared


def prepare_run(spec: Spec) -> Ready:
    """Prepare ``spec``'s data, and the spec as it runs on it (see :func:`settled`)."""
    from lstmctl.data.prepare import prepare

    data = prepare(spec)
    return Ready(settled(spec, data), data)


def settled(spec: Spec, data: Prepared) -> Spec:
    """``spec`` as it runs on ``data``: a generated problem settles its task's defaults
    (:func:`lstmctl.evaluation.classification.settle_task`). ``spec`` is not changed."""
    from lstmctl.evaluation.classification import settle_task

    if spec.data.problem is None:
        return spec
    return settle_task(spec, data)


def check_run(spec: Spec) -> Ready:
    """Prepare the data and raise the typed error ``run`` would; return the settled spec
    and the prepared data (what ``run`` runs)."""
    from lstmctl.evaluation.evaluate import check_baselines
    from lstmctl.evaluation.updating import check_update
    from lstmctl.report.tracking import require_mlflow
    from lstmctl.training.checks import check_training
    from lstmctl.training.footprint import check_footprint

    require_mlflow(spec)  # tracking asked for, MLflow not installed
    spec, data = prepare_run(spec)
    # First: the architectures' checks list the layers, which an absurd size can't hold.
    check_footprint(spec, data)  # a model too big for memory is refused, not attempted
    check_training(spec, data)  # the architecture's shapes, a stateful batch, a monitor
    check_baselines(spec, data)  # a baseline the targets cannot have (majority of reals)
    check_calibration(spec)
    check_update(spec)
    return Ready(spec, data)


def check_calibration(spec: Spec) -> None:
    """The calibration fit of ``evaluate.intervals`` can prepare its data (the training
    part less a held-out part as long as the test part), when it needs one."""
    from lstmctl.data.prepare import prepare
    from lstmctl.errors import DataError, SpecError
    from lstmctl.spec.derive import for_intervals

    calibrating = for_intervals(spec)
    if calibrating is spec:
        return
    try:
        prepare(calibrating)
    except DataError as e:
        raise SpecError(
            "evaluate.intervals calibrates on the last data.split.test rows of the "
            f"training part, held out, and that leaves too little to train on: {e.message}; "
            "set data.split.validation to the part to calibrate on",
            where="evaluate.intervals",
        ) from None
