"""Classification scoring: labels from probabilities, accuracy, the majority baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_spec
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.data.prepare import prepare
from lstmctl.data.prepared import Prepared
from lstmctl.data.problems.prepare import ToLabels
from lstmctl.errors import SpecError
from lstmctl.evaluation.classification import majority_forecast, majority_scores, settle_task
from lstmctl.evaluation.evaluate import baseline_scores
from lstmctl.evaluation.metrics import accuracy, sequence_accuracy
from lstmctl.evaluation.preflight import prepare_run
from lstmctl.evaluation.summary import relative_skill
from lstmctl.spec import Spec, validate_spec


def test_accuracy_per_element_and_per_sequence() -> None:
    actual = np.array([[[1], [2]], [[0], [0]], [[3], [1]]], dtype=float)
    predicted = np.array([[[1], [2]], [[0], [1]], [[2], [0]]], dtype=float)
    assert accuracy(actual, predicted) == pytest.approx(3 / 6)
    assert sequence_accuracy(actual, predicted) == pytest.approx(1 / 3)
    assert sequence_accuracy(actual[:, :1], predicted[:, :1]) == pytest.approx(2 / 3)
    assert relative_skill("sequence_accuracy", 0.9, 0.3) == pytest.approx(2.0)


def test_probabilities_become_labels() -> None:
    to_labels = ToLabels()
    multi = np.array([[[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]]])
    assert to_labels(multi).tolist() == [[[1.0], [0.0]]]
    binary = np.array([[[0.49], [0.5], [0.9]]])
    assert to_labels(binary).tolist() == [[[0.0], [1.0], [1.0]]]
    with pytest.raises(ValueError, match="horizon"):
        to_labels(np.zeros((2, 3)))


def labelled(y_train: np.ndarray, actual: np.ndarray, classes: list[str]) -> Prepared:
    n = len(actual)
    return Prepared(
        X_train=np.zeros((len(y_train), 1, 1), np.float32),
        y_train=y_train.astype(np.float32),
        X_val=np.zeros((0, 1, 1), np.float32),
        y_val=np.zeros((0, *y_train.shape[1:]), np.float32),
        X_test=np.zeros((n, 1, 1), np.float32),
        y_test=np.zeros((n, *y_train.shape[1:]), np.float32),
        actual_test=actual.astype(float),
        persistence_test=np.full(actual.shape, np.nan),
        inverse=ToLabels(),
        input_names=["x"],
        target_names=["y"],
        test_labels=[str(i) for i in range(n)],
        task="classification",
        classes=classes,
    )


def test_majority_baseline_takes_each_positions_most_frequent_class() -> None:
    # Two output steps over 3 classes: class 2 dominates step 0, class 0 step 1.
    labels = np.array([[2, 0], [2, 0], [1, 0], [2, 1]])
    y_train = np.eye(3)[labels]
    actual = np.array([[[2], [0]], [[1], [0]], [[2], [1]]])
    data = labelled(y_train, actual, ["a", "b", "c"])
    np.testing.assert_array_equal(majority_forecast(data)[:, :, 0], [[2, 0]] * 3)
    spec = validate_spec(
        {
            "data": {"problem": "echo"},
            "evaluate": {"metrics": ["accuracy", "sequence_accuracy"], "baseline": "majority"},
        }
    )
    scores = majority_scores(spec, data)
    assert scores == {"accuracy": pytest.approx(4 / 6), "sequence_accuracy": pytest.approx(1 / 3)}
    assert baseline_scores(spec, data) == {"majority": scores}


def problem_spec(problem: str, params: dict, **sections: Any) -> Spec:
    return validate_spec(
        {"data": {"problem": problem, "params": params, "split": {"test": 10}}, **sections}
    )


def test_classification_defaults_follow_the_task() -> None:
    written = problem_spec("addition", {"samples": 40})
    before = written.dump()
    prepare(written)  # data preparation is pure: what it resolved is in the data
    assert written.dump() == before
    spec, data = prepare_run(written)  # settles what the spec left open
    assert written.evaluate.metrics == ["rmse", "mae"]  # the spec given is not changed
    assert written.train.loss == "mse" and written.model.output_activation == "linear"
    assert spec.evaluate.metrics == ["accuracy", "sequence_accuracy"]
    assert spec.evaluate.baseline == "majority"
    assert spec.model.output_activation == "softmax"
    assert spec.train.loss == "categorical_crossentropy"
    assert set(baseline_scores(spec, data)["majority"]) == {"accuracy", "sequence_accuracy"}
    binary, _ = prepare_run(problem_spec("moving_line", {"samples": 20, "size": 4}))
    assert binary.evaluate.metrics == ["accuracy"]
    assert (binary.model.output_activation, binary.train.loss) == ("sigmoid", "binary_crossentropy")


def test_what_the_spec_says_is_kept() -> None:
    spec = problem_spec(
        "echo",
        {"samples": 30},
        model={"output_activation": "sigmoid"},
        train={"loss": "binary_crossentropy"},
        evaluate={"metrics": ["sequence_accuracy"], "baseline": "none"},
    )
    spec, data = prepare_run(spec)
    assert spec.model.output_activation == "sigmoid"
    assert spec.train.loss == "binary_crossentropy"
    assert spec.evaluate.metrics == ["sequence_accuracy"]
    assert baseline_scores(spec, data) == {}


def test_a_spec_dumped_with_every_default_prepares_the_same() -> None:
    # Run directories, tuning trials and saved models write the spec with
    # every default filled in; read back, it must still prepare and settle.
    written = problem_spec("cumsum", {"samples": 30})
    again, _ = prepare_run(validate_spec(written.dump()))
    spec, _ = prepare_run(written)
    assert again.evaluate.metrics == spec.evaluate.metrics == ["accuracy", "sequence_accuracy"]
    assert again.train.loss == "binary_crossentropy" and again.evaluate.baseline == "majority"
    resolved, _ = prepare_run(
        validate_spec(spec.dump())
    )  # the resolved spec, as spec.yaml keeps it
    assert resolved.model.output_activation == "sigmoid"
    assert resolved.dump() == spec.dump()  # settling a settled spec changes nothing


@pytest.mark.parametrize(
    ("problem", "evaluate", "where", "message"),
    [
        ("echo", {"metrics": ["rmse"]}, "evaluate.metrics", "predicts class labels"),
        ("echo", {"metrics": ["accuracy", "mae"]}, "evaluate.metrics", "use accuracy"),
        ("damped_sine", {"metrics": ["accuracy"]}, "evaluate.metrics", "real values"),
        ("damped_sine", {"baseline": "majority"}, "evaluate.baseline", "use persistence"),
    ],
)
def test_metrics_that_do_not_fit_the_task_are_refused(
    problem: str, evaluate: dict, where: str, message: str
) -> None:
    spec = problem_spec(problem, {"samples": 30}, evaluate=evaluate)
    with pytest.raises(SpecError, match=message) as e:
        prepare_run(spec)
    assert e.value.where == where


def test_majority_baseline_on_real_valued_data_is_refused(tiny_spec: Path) -> None:
    from lstmctl.spec import load_spec

    spec = load_spec(tiny_spec, ["evaluate.baseline=majority"])
    data = prepare(spec)
    for check in (settle_task, baseline_scores):
        with pytest.raises(SpecError, match="use persistence") as e:
            check(spec, data)
        assert e.value.where == "evaluate.baseline"


def test_run_scores_a_classification_problem(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "echo.yaml",
        {
            "name": "echo",
            "runs_dir": str(tmp_path / "runs"),
            "data": {"problem": "echo", "params": {"samples": 300}, "split": {"test": 100}},
            "model": {"arch": "vanilla", "units": 12},
            "train": {"epochs": 8, "batch_size": 16, "learning_rate": 0.01},
            "evaluate": {"repeats": 2},
        },
    )
    r = CliRunner().invoke(app, ["run", str(spec), "-f", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out["metrics"]) == ["accuracy"]
    majority = out["baselines"]["majority"]["accuracy"]
    assert 0.05 < majority < 0.25  # ten values: about one in ten
    assert out["metrics"]["accuracy"]["mean"] > majority  # it learns something in 8 epochs
    assert all(0.0 <= v <= 1.0 for v in out["metrics"]["accuracy"]["values"])
    table = CliRunner().invoke(app, ["run", str(spec), "--set", "evaluate.repeats=1"])
    assert table.exit_code == 0 and "majority" in table.stdout and "accuracy" in table.stdout
