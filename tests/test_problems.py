"""The problem registry: every generator is seeded, shaped as documented and correct."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT

from lstmctl.data.prepare import prepare
from lstmctl.data.problems import get_problem, problems
from lstmctl.data.problems.addition import ALPHABET
from lstmctl.data.problems.registry import parse_params
from lstmctl.errors import DataError, SpecError
from lstmctl.spec import validate_spec
from lstmctl.workflows.catalog import catalog

TEXT = ROOT / "datasets" / "republic-book1.txt"

# Tiny sizes for every registered problem: (params, X shape, y shape).
SHAPES: dict[str, tuple[dict[str, Any], tuple[int, ...], tuple[int, ...]]] = {
    "echo": ({"samples": 7, "length": 4, "values": 6, "index": 1}, (7, 4, 6), (7, 1, 6)),
    "damped_sine": ({"samples": 7, "length": 12, "output": 3}, (7, 12, 1), (7, 3, 1)),
    "moving_line": ({"samples": 7, "size": 6, "frames": 4}, (7, 4, 6, 6, 1), (7, 1, 1)),
    "addition": ({"samples": 7, "terms": 2, "largest": 99}, (7, 5, 12), (7, 3, 12)),
    "cumsum": ({"samples": 7, "steps": 6}, (7, 6, 1), (7, 6, 1)),
    "echo_first": ({"samples": 7, "length": 9, "values": 5, "echo": 3}, (7, 9, 5), (7, 3, 5)),
    "text": ({"path": str(TEXT), "max_chars": 300, "window": 8}, (None, 8, None), (None, 1, None)),
}


def generate(name: str, params: dict[str, Any], seed: int = 0) -> Any:
    entry = get_problem(name)
    return entry.generate(parse_params(entry, params), np.random.default_rng(seed))


def test_every_registered_problem_has_a_shape_test() -> None:
    assert set(problems()) == set(SHAPES)
    assert catalog("problems")["problems"] == problems()


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_generator_shapes_and_determinism(name: str) -> None:
    params, x_shape, y_shape = SHAPES[name]
    a, b, c = generate(name, params, 0), generate(name, params, 0), generate(name, params, 1)
    for got, want in ((a.X.shape, x_shape), (a.y.shape, y_shape)):
        assert all(w is None or g == w for g, w in zip(got, want, strict=True)), (got, want)
    assert a.X.dtype == np.float32 and a.y.dtype == np.float32
    np.testing.assert_array_equal(a.X, b.X)  # same seed, same data
    np.testing.assert_array_equal(a.y, b.y)
    if name != "text":  # a text is the same whatever the seed
        assert not np.array_equal(a.X, c.X)
    if a.task == "classification":
        assert a.classes and (a.y.shape[2] == len(a.classes) or len(a.classes) == 2)
        assert set(np.unique(a.y)) <= {0.0, 1.0}


def test_echo_target_is_the_value_at_the_index() -> None:
    g = generate("echo", {"samples": 50, "length": 5, "values": 10, "index": 2})
    np.testing.assert_array_equal(g.X.argmax(axis=2)[:, 2], g.y[:, 0].argmax(axis=1))
    assert (g.X.sum(axis=2) == 1).all()  # one-hot


def test_echo_first_target_is_the_first_values() -> None:
    g = generate("echo_first", {"samples": 50, "length": 8, "values": 50, "echo": 2})
    np.testing.assert_array_equal(g.X.argmax(axis=2)[:, :2], g.y.argmax(axis=2))


def test_damped_sine_follows_the_formula() -> None:
    g = generate("damped_sine", {"samples": 20, "length": 50, "output": 5})
    wave = np.concatenate([g.X, g.y], axis=1)[:, :, 0]
    assert wave.shape == (20, 55)
    assert np.allclose(wave[:, 0], 0.5)  # sin(0) = 0
    assert (wave > 0).all() and (wave < 1).all()
    # The swing around 0.5 shrinks: the decay is positive.
    assert (np.abs(wave[:, 40:] - 0.5).max(axis=1) < np.abs(wave[:, :15] - 0.5).max(axis=1)).all()
    np.testing.assert_array_equal(g.persistence, np.repeat(g.X[:, -1:], 5, axis=1))


def test_moving_line_grows_one_column_per_frame_from_its_edge() -> None:
    g = generate("moving_line", {"samples": 30, "size": 8})
    X = g.X[..., 0]
    assert X.shape == (30, 8, 8, 8)
    lit = X.sum(axis=(2, 3))
    np.testing.assert_array_equal(lit, np.broadcast_to(np.arange(1, 9), (30, 8)))
    first = X[:, 0]  # the first frame: one pixel, on the starting edge
    right = g.y[:, 0, 0] == 1
    assert (first[right][:, :, 0].sum(axis=1) == 1).all()
    assert (first[~right][:, :, -1].sum(axis=1) == 1).all()
    assert 0 < right.sum() < 30
    assert g.classes == ["left", "right"]


def test_addition_strings_add_up() -> None:
    g = generate("addition", {"samples": 40, "terms": 3, "largest": 10})
    assert g.X.shape == (40, 8, 12) and g.y.shape == (40, 2, 12)
    for x, y in zip(g.X, g.y, strict=True):
        question = "".join(ALPHABET[i] for i in x.argmax(axis=1)).strip()
        answer = "".join(ALPHABET[i] for i in y.argmax(axis=1)).strip()
        terms = [int(t) for t in question.split("+")]
        assert len(terms) == 3 and all(1 <= t <= 10 for t in terms)
        assert int(answer) == sum(terms)


def test_cumsum_labels_turn_on_once_the_sum_passes_the_threshold() -> None:
    g = generate("cumsum", {"samples": 40, "steps": 10})
    total = np.cumsum(g.X[:, :, 0], axis=1)
    np.testing.assert_array_equal(g.y[:, :, 0], (total > 2.5).astype(np.float32))
    assert (np.diff(g.y[:, :, 0], axis=1) >= 0).all()  # once on, stays on
    assert g.per_step and g.state["threshold"] == 2.5


def test_text_windows_and_vocabulary(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("the cat\nsat  on the mat. the end")
    g = generate("text", {"path": str(path), "window": 4})
    vocab = g.state["text"]["vocabulary"]
    text = "the cat sat on the mat. the end"  # whitespace runs made one space
    assert vocab == sorted(set(text)) and g.classes == vocab
    assert g.X.shape == (len(text) - 4, 4, len(vocab))
    decode = "".join(vocab[i] for i in g.X[1].argmax(axis=1))
    assert decode == text[1:5] and vocab[int(g.y[1, 0].argmax())] == text[5]
    words = generate("text", {"path": str(path), "window": 2, "level": "word", "encoding": "index"})
    wv = words.state["text"]["vocabulary"]
    assert "." in wv and "mat" in wv and words.input_vocab == len(wv)
    assert words.X.shape == (9 - 2, 2, 1)  # the cat sat on the mat . the end
    assert [wv[int(i)] for i in words.X[3, :, 0]] == ["on", "the"]


def test_text_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        generate("text", {"path": str(tmp_path / "missing.txt")})
    short = tmp_path / "short.txt"
    short.write_text("abc")
    with pytest.raises(DataError, match="window") as e:
        generate("text", {"path": str(short), "window": 5})
    assert e.value.where == str(short)


@pytest.mark.parametrize(
    ("name", "params", "where", "message"),
    [
        ("echo", {"lenght": 5}, "data.params.lenght", "did you mean data.params.length"),
        ("echo", {"index": 7}, "data.params", "index must lie in 0..4"),
        ("cumsum", {"steps": 0}, "data.params.steps", "expected greater than 0"),
        ("text", {}, "data.params.path", "expected"),
        ("moving_line", {"size": 4, "frames": 9}, "data.params", "frames must be at most size"),
    ],
)
def test_bad_params_are_spec_errors(name: str, params: dict, where: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as e:
        parse_params(get_problem(name), params)
    assert e.value.where.startswith(where)


def test_unknown_problem_lists_the_known_ones() -> None:
    with pytest.raises(SpecError, match="known: addition, cumsum") as e:
        get_problem("sine")
    assert e.value.where == "data.problem"


def spec(problem: str, params: dict, **data: Any) -> Any:
    return validate_spec({"seed": 3, "data": {"problem": problem, "params": params, **data}})


def test_prepare_splits_samples_into_train_validation_test() -> None:
    s = spec("echo", {"samples": 100}, split={"test": 0.2, "validation": 10})
    data = prepare(s)
    assert (len(data.X_train), len(data.X_val), len(data.X_test)) == (70, 10, 20)
    assert data.task == "classification" and data.classes == [str(i) for i in range(10)]
    # Test targets are class indices; predictions become class indices too.
    np.testing.assert_array_equal(data.actual_test[:, 0, 0], data.y_test[:, 0].argmax(axis=1))
    np.testing.assert_array_equal(data.inverse(data.y_test), data.actual_test)
    assert data.state["problem"] == "echo" and data.state["params"]["samples"] == 100
    again = prepare(spec("echo", {"samples": 100}, split={"test": 0.2, "validation": 10}))
    np.testing.assert_array_equal(data.X_train, again.X_train)  # the spec's seed decides


def test_prepare_binary_labels_threshold_at_a_half() -> None:
    data = prepare(spec("cumsum", {"samples": 20, "steps": 4}, split={"test": 5}))
    probs = np.array([[[0.2], [0.5], [0.7], [0.49]]] * 5)
    assert data.inverse(probs)[0, :, 0].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert data.per_step and data.shape_hints()["per_step"]


def test_prepare_image_and_token_hints() -> None:
    frames = prepare(spec("moving_line", {"samples": 10, "size": 5}, split={"test": 2}))
    assert frames.shape_hints()["step_shape"] == (5, 5, 1)
    assert frames.lookback == 5
    tokens = prepare(
        spec("text", {"path": str(TEXT), "max_chars": 500, "encoding": "index"}, split={"test": 50})
    )
    assert tokens.shape_hints()["input_vocab"] == len(tokens.classes)
    assert tokens.shape_hints()["step_shape"] == ()


def test_regression_problem_keeps_its_persistence_baseline() -> None:
    s = spec("damped_sine", {"samples": 30, "length": 10, "output": 2}, split={"test": 10})
    data = prepare(s)
    assert data.task == "regression"
    np.testing.assert_array_equal(data.persistence_test[:, 0], data.X_test[:, -1])
    np.testing.assert_array_equal(data.inverse(data.y_test), data.actual_test)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"window": {"lookback": 3}}, "data.window"),
        ({"transforms": ["difference"]}, "data.transforms"),
        ({"target": "y"}, "data.target"),
    ],
)
def test_csv_keys_do_not_apply_to_problems(data: dict, where: str) -> None:
    with pytest.raises(SpecError, match="takes its sizes from data.params") as e:
        prepare(spec("echo", {"samples": 20}, **data))
    assert e.value.where == where


def test_split_larger_than_the_samples_is_a_data_error() -> None:
    with pytest.raises(DataError, match="smaller than the 20 samples") as e:
        prepare(spec("echo", {"samples": 20}, split={"test": 20}))
    assert e.value.where == "data.split.test"
