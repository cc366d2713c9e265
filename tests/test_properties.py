"""Property-based tests (hypothesis): the spec loader, the transforms and the splits.

- Any YAML (text, structures, a valid spec with one value changed, a ``--set``)
  gives a Spec or a SpecError: never a traceback, never a second line.
- Every transform, scaler and chain of them is undone exactly, also when
  rebuilt from its saved state.
- No test row reaches a training or validation window, and scalers see only
  the training rows.

Every test runs derandomized (``derandomize=True``, no example database): CI
runs the same examples every time, so these tests cannot flake; a failure
found once is kept below as an explicit ``@example``.
"""

from __future__ import annotations

import copy
import json
import math
import traceback
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import tiny_raw_spec, write_tiny_csv
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lstmctl.data.prepare import prepare
from lstmctl.data.scalers import (
    MinMaxScaler,
    NoScaler,
    Scaler,
    StandardScaler,
    make_scaler,
    scaler_from_state,
)
from lstmctl.data.splits import RowSplit
from lstmctl.data.transforms import Difference, Log, transform_from_state
from lstmctl.data.windows import Windower
from lstmctl.errors import DataError, SpecError
from lstmctl.spec import ScaleSpec, Spec, load_spec, validate_spec
from lstmctl.spec.tune_space import Range, parse_space

# Derandomized: the same examples on every run (see the module docstring).
BASE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHEAP = settings(BASE, max_examples=200)
MEDIUM = settings(BASE, max_examples=100)
SLOW = settings(BASE, max_examples=100)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for spec files and the tiny CSV, shared by every example."""
    path = tmp_path_factory.mktemp("properties")
    write_tiny_csv(path)
    return path


# =========================================================================== the spec loader


def outcome(name: str) -> None:
    """Count outcomes: ``pytest --hypothesis-show-statistics`` shows how many were valid."""
    if currently_in_test_context():
        event(name)


def check_spec_error(e: SpecError) -> None:
    """What every SpecError owes the user: a place, and one line to print."""
    assert e.where, f"a SpecError without where: {e.message!r}"
    assert e.message
    text = str(e)
    assert "\n" not in text and "\r" not in text, f"a multi-line error: {text!r}"
    assert len(text.splitlines()) == 1, f"a multi-line error: {text!r}"


def load_or_error(path: Path, overrides: list[str] | None = None) -> Spec | SpecError:
    """``load_spec``; a SpecError is returned (checked), any other exception fails."""
    try:
        spec = load_spec(path, overrides or [])
    except SpecError as e:
        outcome("SpecError")
        check_spec_error(e)
        return e
    except Exception:
        pytest.fail(f"load_spec raised other than SpecError:\n{traceback.format_exc()}")
    outcome("a valid Spec")
    check_round_trip(spec)
    return spec


def check_round_trip(spec: Spec) -> None:
    """The resolved spec a run directory keeps must load back as the same spec."""
    try:
        again = validate_spec(yaml.safe_load(spec.to_yaml()), source="resolved")
    except Exception:
        pytest.fail(f"the resolved spec does not load back:\n{traceback.format_exc()}")
    assert again.dump() == spec.dump()
    if spec.tune is not None:
        # What the tuner will hand to Optuna: finite ends, a positive finite step.
        for dim in parse_space(spec.tune.space):
            if isinstance(dim, Range):
                assert math.isfinite(dim.low) and math.isfinite(dim.high), dim
                assert dim.step is None or 0 < dim.step < math.inf, dim


def write_text(folder: Path, text: str) -> Path:
    path = folder / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SPEC_KEYS = [
    # sections and their keys, so that generated structures reach deep validators
    *("name", "seed", "backend", "runs_dir", "data", "model", "train", "evaluate", "compare"),
    *("tracking", "tune", "path", "problem", "params", "time", "target", "features"),
    *("categorical", "missing", "coerce", "mask_value", "transforms", "scale", "kind", "range"),
    *("window", "lookback", "horizon", "split", "test", "validation", "lag", "arch", "units"),
    *("layers", "dropout", "stateful", "epochs", "batch_size", "learning_rate", "shuffle"),
    *("early_stopping", "monitor", "patience", "repeats", "metrics", "baseline", "update"),
    *("schemes", "space", "strategy", "trials", "timeout", "low", "high", "log", "step"),
    *("objective", "metric", "pruning", "mlflow", "model.units", "train.epochs", "<<"),
]
WORDS = [
    *("minmax", "standard", "none", "difference", "log", "vanilla", "stacked", "rmse", "mae"),
    *("grid", "tpe", "random", "val_loss", "loss", "x.csv", "y", "interpolate", "mask"),
    *("persistence", "fine-tune", "10m", "1h", "auto", "tensorflow", "sine", "true", "1e-3"),
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # nan and inf included
    st.floats(-2.0, 2.0),
    st.text(max_size=12),
    st.sampled_from(WORDS),
)
keys = st.one_of(st.sampled_from(SPEC_KEYS), st.text(max_size=8), st.integers(-2, 2))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)

# Text that looks like YAML: indentation, flow brackets, anchors, aliases, tags.
YAML_BITS = [
    *("\n", "  ", "\t", ":", ": ", "- ", "? ", "[", "]", "{", "}", ", ", "'", '"', "#"),
    *("&a ", "*a", "&b ", "*b", "<<: *a", "|\n", ">\n", "---\n", "...\n", "%YAML 1.1\n"),
    *("!!python/object:os.system ", "!!python/object/apply:os.system ['true']", "!!int "),
    *("!!float ", "!!bool ", "!!timestamp ", "!!binary ", "!!set ", "!!omap ", "!!str "),
    *("!!map ", "!!seq ", "!custom ", "2020-13-45", "0x_", "1:20:30", ".nan", ".inf", "~"),
    *("data", "model", "path", "target", "window", "units", "1e400", "\\", "\x00", "\ufeff"),
    *("\x85", "\u2028", "\r", "\r\n", "é", "😀", "0o", "0b", "+", "-.5", "null", "yes"),
]
yaml_text = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),  # control characters
    st.lists(st.one_of(st.sampled_from(YAML_BITS), st.text(max_size=4)), max_size=40).map("".join),
    # deep nesting (deeper still in test_deep_nesting_is_refused)
    st.integers(1, 100).map(lambda n: "a: " + "[" * n + "]" * n),
    st.integers(1, 100).map(lambda n: "{a: " * n + "1" + "}" * n),
)


def nested(style: str, depth: int) -> str:
    if style == "flow list":
        return "a: " + "[" * depth + "]" * depth
    if style == "flow map":
        return "{a: " * depth + "1" + "}" * depth
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + "  " * depth + "x"


# A "billion laughs": each level lists the one before 9 times (9**9 leaves expanded).
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)
DATA_OK = "data: {path: x.csv, target: y}\n"


@CHEAP
@given(text=yaml_text)
@example(text="a: 2020-13-45")  # ValueError from PyYAML's date constructor
@example(text="a: !!bool maybe")  # KeyError
@example(text="a: !!int ''")  # IndexError
@example(text="a: !!timestamp x")  # AttributeError
@example(text="a: &a [*a]")  # a list that contains itself
@example(text=DATA_OK + "name: " + ":".join(["1"] * 3000))  # a 17715-bit int: repr() fails
# OverflowError: float() of a 400-digit range end
@example(text=DATA_OK + "tune: {space: {model.units: {low: 1, high: " + "9" * 400 + "}}}")
@example(text=ALIAS_BOMB + DATA_OK + "name: *i")  # 40 s and growing, before the guard
def test_any_yaml_text_gives_a_spec_or_a_spec_error(folder: Path, text: str) -> None:
    load_or_error(write_text(folder, text))


@pytest.mark.parametrize("style", ["flow list", "flow map", "block"])
@pytest.mark.parametrize("depth", [10, 63, 64, 400, 1200])
def test_deep_nesting_is_refused(folder: Path, style: str, depth: int) -> None:
    # 1200: a RecursionError out of PyYAML's composer, before the guard.
    if style == "block" and depth > 400:
        return  # 1200 levels of indentation: 1.4 MB of spaces, for little more
    result = load_or_error(write_text(folder, nested(style, depth)))
    assert isinstance(result, SpecError)
    levels = depth + (style == "flow list")  # `a:` holds the outer list
    assert ("at most 64 levels of nesting" in result.message) == (levels > 64), result.message


@CHEAP
@given(raw=st.binary(max_size=60))
def test_any_bytes_give_a_spec_or_a_spec_error(folder: Path, raw: bytes) -> None:
    path = folder / "bytes.yaml"
    path.write_bytes(raw)
    load_or_error(path)


def test_python_tags_are_refused_with_their_line(folder: Path) -> None:
    e = load_or_error(write_text(folder, DATA_OK + "model: !!python/object:os.system {}\n"))
    assert isinstance(e, SpecError)
    assert e.where == f"{folder / 'spec.yaml'}:2:8"
    assert "invalid YAML" in e.message and "python/object:os.system" in e.message


def test_alias_bomb_is_refused_quickly(folder: Path) -> None:
    # Ten levels: 9**10 values once expanded; PyYAML shares them, so loading is fast,
    # but printing or validating them is not: the loader must refuse before that.
    bomb = ALIAS_BOMB + "j: &j [" + ", ".join(["*i"] * 9) + "]\n"
    for tail in ("name: *j\n", "data: {path: x.csv, target: y, params: {p: *j}}\n"):
        e = load_or_error(write_text(folder, bomb + tail))
        assert isinstance(e, SpecError) and "at most 100000 values" in e.message


@MEDIUM
@given(tree=st.dictionaries(keys, values, max_size=6))
def test_any_yaml_structure_gives_a_spec_or_a_spec_error(folder: Path, tree: dict) -> None:
    load_or_error(write_text(folder, yaml.safe_dump(tree, sort_keys=False)))


def spec_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value (a section, a list, a scalar) in plain spec data."""
    out = [prefix] if prefix else []
    if isinstance(node, dict | list):
        for k, v in node.items() if isinstance(node, dict) else enumerate(node):
            out += spec_paths(v, (*prefix, k))
    return out


def valid_bases(folder: Path) -> list[dict]:
    tiny = tiny_raw_spec(folder, folder / "tiny.csv")
    tuned = copy.deepcopy(tiny)
    tuned["data"]["split"]["validation"] = 6
    tuned["train"]["early_stopping"] = {"patience": 2}
    tuned["tune"] = {
        "space": {"model.units": [2, 4], "train.learning_rate": {"low": 1e-3, "high": 1e-1}},
        "strategy": "random",
        "trials": 4,
        "pruning": {"repeats": True},
    }
    return [tiny, tuned]


@MEDIUM
@given(which=st.integers(0, 1), data=st.data(), value=st.one_of(scalars, values))
def test_a_valid_spec_with_one_value_changed(
    folder: Path, which: int, data: st.DataObject, value: Any
) -> None:
    raw = valid_bases(folder)[which]
    path = data.draw(st.sampled_from(spec_paths(raw)), label="path")
    node = raw
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    load_or_error(write_text(folder, yaml.safe_dump(raw, sort_keys=False)))


@pytest.mark.parametrize(
    "dim",
    [
        {"low": 1e-3, "high": math.inf},  # was accepted: Optuna fails on it mid-study
        {"low": -math.inf, "high": 0.5},
        {"low": 0.1, "high": 0.5, "step": math.nan},  # nan <= 0 is False: was accepted
        {"low": 0.1, "high": 0.5, "step": math.inf},
        {"low": 1e-3, "high": None},  # TypeError: '<' between float and None
    ],
)
def test_a_tune_range_needs_finite_numbers(folder: Path, dim: dict[str, Any]) -> None:
    raw = valid_bases(folder)[1]
    raw["tune"]["space"]["train.learning_rate"] = dim
    e = load_or_error(write_text(folder, yaml.safe_dump(raw, sort_keys=False)))
    assert isinstance(e, SpecError) and "finite number" in e.message
    # Without YAML (a trial built in code), the range itself refuses them.
    try:
        validate_spec(raw)
    except SpecError as e:
        check_spec_error(e)
        assert e.where.endswith("tune.space.train.learning_rate")
    else:
        pytest.fail("validate_spec accepted a range that is not finite")


SECTIONS: list[tuple[str, ...]] = [
    (),
    ("data",),
    ("data", "window"),
    ("data", "split"),
    ("data", "scale"),
    ("model",),
    ("train",),
    ("evaluate",),
]


@CHEAP
@given(section=st.sampled_from(SECTIONS), key=st.text(min_size=1, max_size=10))
@example(section=("model",), key="lstm-units")  # was reported at `model`: did you mean model?
@example(section=("data",), key="a\nb")  # a line break in the key: on two lines
def test_an_unknown_key_is_named_where_it_is(
    folder: Path, section: tuple[str, ...], key: str
) -> None:
    raw = tiny_raw_spec(folder, folder / "tiny.csv")
    node = raw
    for k in section:
        node = node[k]
    if key in node or key == "<<":
        return  # a known key, or one that YAML reads as another
    node[key] = 1
    e = load_or_error(write_text(folder, yaml.safe_dump(raw, sort_keys=False)))
    assert isinstance(e, SpecError)
    assert e.message.startswith("unknown key")
    assert e.where == f"{folder / 'spec.yaml'}: {'.'.join([*section, key])}"


REAL_KEYS = [
    *(".".join(map(str, p)) for p in spec_paths(tiny_raw_spec(Path("f"), Path("f/t.csv")))),
    *("model.dropout", "model.stateful", "train.learning_rate", "train.shuffle", "seed"),
    *("train.early_stopping.patience", "data.split.validation", "evaluate.update.schemes"),
    *("tune.space.model.units", "tune.trials", "compare", "data.mask_value", "backend"),
]
override_keys = st.one_of(
    st.sampled_from(REAL_KEYS),
    st.sampled_from(REAL_KEYS),
    st.text(max_size=12),
    st.lists(st.sampled_from(SPEC_KEYS), min_size=1, max_size=4).map(".".join),
)
override_values = st.one_of(
    scalars.map(lambda v: yaml.safe_dump(v, default_flow_style=True, width=10_000).strip()),
    st.text(max_size=20),
    st.sampled_from(YAML_BITS),
    values.map(lambda v: yaml.safe_dump(v, default_flow_style=True, width=10_000).strip()),
)


@MEDIUM
@given(
    item=st.one_of(
        st.text(max_size=30),
        st.tuples(override_keys, override_values).map("=".join),
    )
)
@example(item="a\nb=1")  # a line break in the key
@example(item="train.epochs=" + "[" * 1200)  # RecursionError
def test_any_override_gives_a_spec_or_a_spec_error(folder: Path, item: str) -> None:
    raw = tiny_raw_spec(folder, folder / "tiny.csv")
    path = write_text(folder, yaml.safe_dump(raw, sort_keys=False))
    load_or_error(path, [item])


# =========================================================================== transforms


def finite(lo: float = -1e6, hi: float = 1e6) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def series(
    min_rows: int = 1, max_rows: int = 40, columns: int | None = None, lo: float = -1e6
) -> st.SearchStrategy[np.ndarray]:
    cols = st.just(columns) if columns else st.integers(1, 3)
    shapes = st.tuples(st.integers(min_rows, max_rows), cols)
    return hnp.arrays(np.float64, shapes, elements=finite(lo))


def close(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> None:
    """Equal up to float rounding, relative to the size of the values involved."""
    atol = 1e-9 * max(1.0, float(np.nanmax(np.abs(scale))) if scale.size else 1.0)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=atol)


ranges = st.tuples(finite(-10.0, 10.0), finite(0.1, 100.0)).map(lambda t: (t[0], t[0] + t[1]))
scalers = st.one_of(
    ranges.map(MinMaxScaler),
    st.builds(StandardScaler),
    st.builds(NoScaler),
)


def saved(obj: Any) -> dict[str, Any]:
    """``state()`` as preprocess.json keeps it."""
    return json.loads(json.dumps(obj.state()))


@CHEAP
@given(x=series(), scaler=scalers, data=st.data())
@example(x=np.full((5, 1), 3.0), scaler=StandardScaler(), data=None)  # constant column
# std came out as 2.9e-11, not 0: the constant column was scaled to +-1 noise.
@example(x=np.full((7, 1), 149797.54570188), scaler=StandardScaler(), data=None)
@example(x=np.full((5, 1), 3.0), scaler=MinMaxScaler((-1.0, 1.0)), data=None)
def test_scaler_round_trip_and_saved_state(
    x: np.ndarray, scaler: Scaler, data: st.DataObject | None
) -> None:
    n_fit = data.draw(st.integers(1, len(x)), label="n_fit") if data else len(x)
    names = ["a", "b", "c"][: x.shape[1]]
    scaler.names = names
    scaler.fit(x[:n_fit])
    z = scaler.transform(x)
    close(scaler.inverse_transform(z), x, x)
    # Forecasts are (windows, horizon, columns): the same mapping on the last axis.
    close(scaler.inverse_transform(z[None]), x[None], x)
    train = x[:n_fit]
    constant = (train == train[0]).all(axis=0)
    if isinstance(scaler, MinMaxScaler):
        lo, hi = scaler.feature_range
        np.testing.assert_array_equal(scaler.data_min_, train.min(axis=0))
        np.testing.assert_array_equal(scaler.data_max_, train.max(axis=0))
        zt = z[:n_fit]
        tol = 1e-9 * (hi - lo) + 1e-12 * (abs(lo) + abs(hi))
        assert (zt >= lo - tol).all() and (zt <= hi + tol).all()
        # The contract for a constant column: it maps to the low end, and back.
        assert (np.abs(zt[:, constant] - lo) <= tol).all()
    elif isinstance(scaler, StandardScaler):
        close(scaler.mean_, train.mean(axis=0), train)
        # The contract for a constant column: scale 1, every value to 0, and back.
        assert (scaler.scale_[constant] == 1.0).all()
        assert (z[:n_fit, constant] == 0.0).all()
    else:
        np.testing.assert_array_equal(z, x)
    again = scaler_from_state(saved(scaler))
    np.testing.assert_array_equal(again.transform(x), z)
    np.testing.assert_array_equal(again.inverse_transform(z), scaler.inverse_transform(z))


@CHEAP
@given(x=series(max_rows=10), low=st.floats(), high=st.floats())
@example(x=np.array([[0.0], [1.0]]), low=0.0, high=math.inf)  # everything became nan
@example(x=np.array([[0.0], [1.0]]), low=-1e308, high=1e308)  # high - low overflows
@example(x=np.array([[0.0], [0.3], [1.0]]), low=0.0, high=5e-324)  # 0.3 came back as 0
@example(x=np.array([[3.0]]), low=0.0, high=1.7976931348623157e308)  # constant: 3 * scale = inf
@example(x=np.array([[1.20703125]]), low=-35184372088833.0, high=0.0)  # constant lost digits
@example(x=np.array([[177115.0], [209793.0]]), low=0.0, high=2.8e307)  # x * scale overflowed
def test_any_range_the_spec_accepts_is_undone(x: np.ndarray, low: float, high: float) -> None:
    try:
        spec = ScaleSpec(kind="minmax", range=(low, high))
    except ValidationError:
        return
    scaler = make_scaler(spec).fit(x)
    z = scaler.transform(x)
    assert np.isfinite(z).all()
    # Float rounding grows with how far the range sits from 0 relative to its width.
    condition = (abs(low) + abs(high)) / (high - low)
    atol = 1e-12 * condition * max(1.0, float(np.abs(x).max()))
    np.testing.assert_allclose(scaler.inverse_transform(z), x, rtol=1e-9, atol=atol)


@CHEAP
@given(x=series(), scaler=scalers, data=st.data())
def test_scalers_pass_missing_values_through(
    x: np.ndarray, scaler: Scaler, data: st.DataObject
) -> None:
    holes = data.draw(hnp.arrays(np.bool_, x.shape), label="holes")
    holes[0] = False  # every column keeps a value to fit on
    x = np.where(holes, np.nan, x)
    z = scaler.fit(x).transform(x)
    np.testing.assert_array_equal(np.isnan(z), holes)
    close(scaler.inverse_transform(z), x, x)


@CHEAP
@given(x=series(min_rows=2), data=st.data())
def test_difference_round_trip_and_walk_forward_inverse(x: np.ndarray, data: st.DataObject) -> None:
    n = len(x)
    lag = data.draw(st.integers(1, n - 1), label="lag")
    d = Difference(lag).fit(x)
    z = d.transform(x)
    assert np.isnan(z[:lag]).all() and np.isfinite(z[lag:]).all()
    close(d.inverse_transform(z), x, x)
    close(d.inverse_transform(z, head=x[:lag]), x, x)
    # Walk-forward: the true changes, predicted from every origin, give the true values.
    horizon = data.draw(st.integers(1, n - lag), label="horizon")
    origins = np.arange(lag - 1, n - horizon)
    steps = origins[:, None] + np.arange(1, horizon + 1)
    close(d.inverse_forecast(z[steps], origins, x), x[steps], x)
    again = transform_from_state(saved(d))
    np.testing.assert_array_equal(again.transform(x), z)
    np.testing.assert_array_equal(
        again.inverse_forecast(z[steps], origins, x), d.inverse_forecast(z[steps], origins, x)
    )


def test_difference_needs_more_rows_than_its_lag() -> None:
    with pytest.raises(DataError):
        Difference(3).fit(np.arange(3.0))


@CHEAP
@given(x=series(lo=1e-6), bad=st.one_of(st.just(0.0), finite(-1e6, 0.0)), data=st.data())
def test_log_round_trip_and_non_positive_values(
    x: np.ndarray, bad: float, data: st.DataObject
) -> None:
    tr = Log().fit(x)
    z = tr.transform(x)
    np.testing.assert_allclose(tr.inverse_transform(z), x, rtol=1e-12)
    np.testing.assert_allclose(tr.inverse_forecast(z[None], np.zeros(1), x), x[None], rtol=1e-12)
    assert isinstance(transform_from_state(saved(tr)), Log)
    row = data.draw(st.integers(0, len(x) - 1), label="row")
    x = x.copy()
    x[row, 0] = bad
    with pytest.raises(DataError) as e:
        tr.transform(x)
    assert e.value.where


links = st.one_of(st.integers(1, 4).map(lambda lag: ("difference", lag)), st.just(("log", 0)))


@CHEAP
@given(
    x=series(min_rows=2, max_rows=40, lo=1e-3),
    chain_spec=st.lists(links, max_size=3),
    scaler=scalers,
    data=st.data(),
)
def test_a_chain_is_undone_walk_forward_as_prepare_does(
    x: np.ndarray, chain_spec: list[tuple[str, int]], scaler: Scaler, data: st.DataObject
) -> None:
    n = len(x)
    lags = sum(lag for _, lag in chain_spec)
    if lags >= n:
        return  # split.check refuses these before any transform is fitted
    n_fit = data.draw(st.integers(lags + 1, n), label="n_fit")
    stages = [x]
    chain: list[Difference | Log] = []
    for kind, lag in chain_spec:
        tr = Difference(lag) if kind == "difference" else Log()
        tr.fit(stages[-1][:n_fit])
        before = stages[-1]
        try:
            stages.append(tr.transform(before))
        except DataError:
            # Only a log that meets a value <= 0 (a difference can be negative) may refuse.
            assert kind == "log" and (before <= 0).any()
            return
        chain.append(tr)
    scaler.fit(stages[-1][:n_fit])
    z = scaler.transform(stages[-1])
    horizon = data.draw(st.integers(1, n - lags), label="horizon")
    origins = np.arange(max(lags - 1, 0), n - horizon)
    steps = origins[:, None] + np.arange(1, horizon + 1)
    saved_chain = [transform_from_state(saved(tr)) for tr in chain]
    saved_scaler = scaler_from_state(saved(scaler))
    results = []
    for sc, trs in ((scaler, chain), (saved_scaler, saved_chain)):
        out = sc.inverse_transform(z[steps])
        for k in range(len(trs) - 1, -1, -1):
            out = trs[k].inverse_forecast(out, origins, stages[k])
        results.append(out)
    # exp() turns the rounding of a log into a relative error: compare relatively.
    np.testing.assert_allclose(results[0], x[steps], rtol=1e-7, atol=1e-9 * np.abs(x).max())
    np.testing.assert_array_equal(results[1], results[0])


# =========================================================================== splits and windows


wild_parts = st.one_of(
    st.integers(-2, 90),
    st.floats(-0.5, 1.5, allow_nan=False),
    st.sampled_from([0, 0.0, 1 / 3, 0.999, 1.0, 2.0]),
)


def part_sizes(n: int, least: int = 1) -> st.SearchStrategy[int | float]:
    """A plausible test (least 1) or validation (least 0) part for n rows."""
    return st.one_of(st.integers(least, max(n // 4, least)), st.floats(0.05, 0.4))


@CHEAP
@given(n=st.integers(1, 80), test=wild_parts, validation=wild_parts)
@example(n=10, test=2, validation=-1)  # fit() gave n_fit 9 > the 8 rows before the test part
def test_a_split_is_a_layout_of_the_rows_or_a_data_error(
    n: int, test: int | float, validation: int | float
) -> None:
    try:
        split = RowSplit(test, validation).fit(n)
    except DataError as e:
        outcome("refused")
        assert e.where and "\n" not in str(e)
        return
    outcome("a layout")
    n_fit, n_train = split.n_fit_, split.n_train_
    assert 0 <= n_fit <= n_train <= n, (n_fit, n_train, n)
    assert split.n_val_ == n_train - n_fit and split.n_test_ == n - n_train
    assert split.n_test_ >= 1 or test == 0


@CHEAP
@given(
    n=st.integers(8, 80),
    lookback=st.integers(1, 8),
    horizon=st.integers(1, 5),
    data=st.data(),
)
def test_windows_never_leak_test_rows_into_training(
    n: int, lookback: int, horizon: int, data: st.DataObject
) -> None:
    test = data.draw(st.one_of(st.just(0), part_sizes(n)), label="test")  # 0: finalize
    validation = data.draw(part_sizes(n, least=0), label="validation")
    rows = np.arange(n, dtype=np.float64)  # every value is its own row number
    split = RowSplit(test, validation).fit(n)
    try:
        split.check(lookback, horizon)
    except DataError as e:
        outcome("refused")
        assert e.where and "\n" not in str(e)
        return
    outcome("windows checked")
    n_fit, n_train = split.n_fit_, split.n_train_
    windower = Windower(lookback, horizon).fit()
    X, y, origins = windower.transform(rows, rows)
    # A window holds exactly rows o-lookback+1 .. o in, o+1 .. o+horizon out.
    np.testing.assert_array_equal(X[:, :, 0], origins[:, None] + np.arange(1 - lookback, 1))
    np.testing.assert_array_equal(y[:, :, 0], origins[:, None] + np.arange(1, horizon + 1))
    parts = split.assign(origins, horizon)
    assert not (parts["train"] & parts["val"]).any()
    assert not ((parts["train"] | parts["val"]) & parts["test"]).any()
    train_y, val_y, test_y = (y[parts[k]] for k in ("train", "val", "test"))
    assert (X[parts["train"]] < n_fit).all() and (train_y < n_fit).all()
    assert ((val_y >= n_fit) & (val_y < n_train)).all()
    assert (test_y >= n_train).all()
    # Every row of a part is the target of a window of that part.
    assert set(train_y.ravel()) == set(range(lookback, n_fit))
    assert set(val_y.ravel()) == set(range(n_fit, n_train))
    assert set(test_y.ravel()) == set(range(n_train, n))
    # And every test row starts one forecast (one test window per origin).
    np.testing.assert_array_equal(test_y[:, 0, 0], np.arange(n_train, n - horizon + 1))


@pytest.mark.parametrize(("lookback", "horizon"), [(0, 1), (1, 0), (-1, 3)])
def test_a_window_of_no_steps_is_a_data_error(lookback: int, horizon: int) -> None:
    # It was a ValueError: a traceback for a saved model whose preprocess.json says 0.
    with pytest.raises(DataError) as e:
        Windower(lookback, horizon).fit()
    assert e.value.where == "data.window"


def write_rows_csv(folder: Path, n: int) -> Path:
    """``v = (i + 1)**3``: every transform below is still strictly monotone in the row i;
    ``row = i`` is the row number itself, as a feature."""
    i = np.arange(n)
    path = folder / "rows.csv"
    pd.DataFrame({"v": (i + 1.0) ** 3, "row": i.astype(float)}).to_csv(path, index=False)
    return path


def stage_of(v: np.ndarray, transforms: list[dict[str, Any]]) -> np.ndarray:
    """The target after the transforms, computed here independently of lstmctl."""
    out = v.astype(np.float64)
    for t in transforms:
        if t["kind"] == "log":
            out = np.log(out)
        else:
            lag = t["lag"]
            out = np.r_[np.full(lag, np.nan), out[lag:] - out[:-lag]]
    return out


def rows_of(values: np.ndarray, stage: np.ndarray) -> np.ndarray:
    """The row whose stage value each (float32) value is: the nearest one."""
    dist = np.abs(values.reshape(-1, 1) - np.nan_to_num(stage, nan=np.inf)[None, :])
    return dist.argmin(axis=1).reshape(values.shape)


transform_lists = st.sampled_from(
    [
        [],
        [{"kind": "difference", "lag": 1}],
        [{"kind": "difference", "lag": 3}],
        [{"kind": "log"}],
        [{"kind": "log"}, {"kind": "difference", "lag": 2}],
        [{"kind": "difference", "lag": 1}, {"kind": "difference", "lag": 1}],
    ]
)


@SLOW
@given(
    n=st.integers(2, 70),
    lookback=st.integers(1, 6),
    horizon=st.integers(1, 4),
    transforms=transform_lists,
    scale=st.sampled_from(["minmax", "standard", "none"]),
    data=st.data(),
)
def test_prepare_fits_on_training_rows_and_keeps_test_rows_out(
    folder: Path,
    n: int,
    lookback: int,
    horizon: int,
    transforms: list[dict[str, Any]],
    scale: str,
    data: st.DataObject,
) -> None:
    # Mostly plausible parts, sometimes wild ones (a SpecError or a DataError).
    wild = data.draw(st.sampled_from([False, False, False, True]), label="wild")
    test = data.draw(wild_parts if wild else part_sizes(n), label="test")
    validation = data.draw(wild_parts if wild else part_sizes(n, least=0), label="validation")
    path = write_rows_csv(folder, n)
    raw = {
        "data": {
            "path": str(path),
            "target": "v",
            "features": ["row"],
            "transforms": transforms,
            "scale": {"kind": scale, "range": [-1, 1]},
            "window": {"lookback": lookback, "horizon": horizon},
            "split": {"test": test, "validation": validation},
        },
    }
    try:
        p = prepare(validate_spec(raw))
    except (SpecError, DataError) as e:
        outcome(f"refused: {type(e).__name__}")
        assert e.where and "\n" not in str(e)
        return
    except Exception:
        pytest.fail(f"prepare raised other than DataError/SpecError:\n{traceback.format_exc()}")
    outcome("windows checked")
    rows = p.state["rows"]
    n_fit, n_val, n_test = rows["train"], rows["validation"], rows["test"]
    n_train = n_fit + n_val
    assert n_train + n_test == n and n_test >= 1

    # Scalers saw the training rows only (0 .. n_fit-1), of the transformed target.
    stage = stage_of((np.arange(n) + 1.0) ** 3, transforms)
    fit_part = stage[:n_fit][~np.isnan(stage[:n_fit])]
    target_state = p.state["scale"]["targets"]
    row_state = p.state["scale"]["features"]
    if scale == "minmax":
        col = target_state["columns"]["v"]
        assert math.isclose(col["data_min"], fit_part.min(), rel_tol=1e-12, abs_tol=1e-12)
        assert math.isclose(col["data_max"], fit_part.max(), rel_tol=1e-12, abs_tol=1e-12)
        assert row_state["columns"]["row"]["data_max"] == n_fit - 1
    elif scale == "standard":
        assert math.isclose(target_state["columns"]["v"]["mean"], fit_part.mean(), rel_tol=1e-9)
        assert row_state["columns"]["row"]["mean"] == pytest.approx((n_fit - 1) / 2)

    # Rows of every window: the feature gives the inputs, the target's stage the targets.
    row_scaler = scaler_from_state(row_state)
    target_scaler = scaler_from_state(target_state)
    for X, y, lo, hi in (
        (p.X_train, p.y_train, 0, n_fit),
        (p.X_val, p.y_val, n_fit, n_train),
        (p.X_test, p.y_test, n_train, n),
    ):
        in_rows = np.rint(row_scaler.inverse_transform(X[:, :, 1:2].astype(np.float64)))
        out_rows = rows_of(target_scaler.inverse_transform(y.astype(np.float64)), stage)
        # Inputs are the lookback rows up to the origin, targets the horizon rows after it.
        first = out_rows[:, :1, 0]
        np.testing.assert_array_equal(in_rows[:, :, 0], first - lookback + np.arange(lookback))
        np.testing.assert_array_equal(out_rows[:, :, 0], first + np.arange(horizon))
        assert ((out_rows >= lo) & (out_rows < hi)).all(), (lo, hi, out_rows)
        if lo == 0:
            assert (in_rows < n_fit).all()
    # The test windows: one per test row that can start a forecast, targets in test rows.
    test_rows = rows_of(target_scaler.inverse_transform(p.y_test.astype(np.float64)), stage)
    np.testing.assert_array_equal(test_rows[:, 0, 0], np.arange(n_train, n - horizon + 1))
    assert set(test_rows.ravel()) == set(range(n_train, n))
    np.testing.assert_array_equal(p.actual_test, (test_rows + 1.0) ** 3)
    # The true model-space targets, inverted walk-forward, are the actual values.
    np.testing.assert_allclose(p.inverse(p.y_test.astype(np.float64)), p.actual_test, rtol=1e-4)
