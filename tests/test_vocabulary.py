"""The spec's name vocabularies agree with what Keras and the registry resolve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lstmctl.models.registry import architectures
from lstmctl.spec import vocabulary


def test_architectures_are_the_registered_ones() -> None:
    assert set(vocabulary.ARCHITECTURES) == set(architectures())


def test_every_name_resolves_in_keras() -> None:
    import keras

    for name in vocabulary.OPTIMIZERS:
        assert isinstance(keras.optimizers.get(name), keras.optimizers.Optimizer), name
    for name in vocabulary.LOSSES:
        assert callable(keras.losses.get(name)), name
    for name in vocabulary.ACTIVATIONS:
        assert callable(keras.activations.get(name)), name


def test_keras_names_not_listed_are_deliberate() -> None:
    # A new Keras optimizer or activation shows up here, to be added or left out on purpose.
    from keras.src.activations import ALL_OBJECTS_DICT as activations
    from keras.src.optimizers import ALL_OBJECTS_DICT as optimizers

    wrappers = {"lossscaleoptimizer", "multioptimizer", "optimizer", "optimizermap"}
    newer = {"muon", "schedulefreeadamw"}  # need settings of their own to train well
    assert {n for n in optimizers if n.islower()} - set(vocabulary.OPTIMIZERS) <= wrappers | newer
    assert {n for n in activations if n.islower()} - set(vocabulary.ACTIVATIONS) <= {"threshold"}


def test_names_are_case_insensitive_and_canonical() -> None:
    assert vocabulary.check_name("Adam", vocabulary.OPTIMIZERS, "optimizer") == "adam"
    with pytest.raises(ValueError, match="did you mean adam"):
        vocabulary.check_name("adamz", vocabulary.OPTIMIZERS, "optimizer")


@pytest.mark.parametrize("backend", ["auto", "tensorflow"])
def test_run_refuses_a_bad_name_before_training_on_every_backend(
    backend: str, tmp_path: Path
) -> None:
    spec = Path(__file__).parent / "bad_inputs" / "cases" / "valid.yaml"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstmctl.cli",
            "run",
            str(spec),
            "--out",
            str(tmp_path),
            "--set",
            f"backend={backend}",
            "--set",
            "train.optimizer=adamz",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        f"lstmctl: error: {spec}: train.optimizer: unknown optimizer 'adamz'; did you mean adam?"
    ]
    assert not list(tmp_path.iterdir())  # nothing trained, no run directory


def test_one_metric_vocabulary() -> None:
    from typing import get_args

    from lstmctl.evaluation.metrics import METRICS, SCALED
    from lstmctl.spec import Metric

    every = set(METRICS) | set(SCALED)
    assert every == set(vocabulary.LOWER_IS_BETTER) == set(get_args(Metric))
    assert set(vocabulary.CLASSIFICATION_METRICS) <= set(METRICS)
