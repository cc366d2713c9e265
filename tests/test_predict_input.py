"""`predict --input` rows and `--horizon`: checked as training data is, and linear in K.

The saved models (lifecycle_fixtures) are monthly series from 2000-01 to
2003-12; new rows continue them from 2004-01.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lifecycle_fixtures as fx
import numpy as np
import pytest
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.data.pipeline import Pipeline
from lstmctl.data.transforms import Difference, Log
from lstmctl.errors import DataError, UsageError
from lstmctl.modeldir.format import open_model_dir
from lstmctl.serving.engines import Engine
from lstmctl.serving.forecast import Predictor
from lstmctl.serving.predict import predict
from lstmctl.serving.request import MAX_HORIZON

lifecycle_dir = fx.lifecycle_dir
saved_plain = fx.saved_plain
saved_stateful = fx.saved_stateful


def one_error_line(model: Path, text: str, *args: str) -> str:
    """Run `predict --input -`: exit 2, nothing on stdout, one line on stderr (returned)."""
    res = CliRunner().invoke(app, ["predict", "-m", str(model), "-i", "-", *args], input=text)
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith("lstmctl: error: ")
    return lines[0]


# --------------------------------------------------------------------------- no rows


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("month,sales\n", "--input: expected at least one row after the header line, found a "),
        ("month,sales\n\n\n", "found a header only"),
        ("sales\n", "found a header only"),
        ("[]", "--input: expected at least one row, found an empty JSON array"),
    ],
)
def test_a_header_and_no_rows_is_one_line(saved_stateful: Path, text: str, fragment: str) -> None:
    assert fragment in one_error_line(saved_stateful, text)
    assert fragment in one_error_line(saved_stateful, text, "--horizon", "3")


# --------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        # Before (or at) the saved series' end.
        (
            "month,sales\n2003-06,150\n",
            ["--input: column month, line 2", "after '2003-12' (from '2004-01')", "'2003-06'"],
        ),
        ("month,sales\n2003-12,150\n", ["line 2", "continue the saved series after '2003-12'"]),
        # A time repeated.
        (
            "month,sales\n2004-01,150\n2004-01,151\n",
            ["column month, line 3", "expected each time once, found '2004-01' on lines 2 and 3"],
        ),
        (
            '{"month": "2004-01", "sales": 1}\n{"month": "2004-01", "sales": 2}\n',
            ["column month, line 2", "expected each time once"],
        ),
        # A time repeated after a later one is a repeat, not a row out of order.
        (
            "month,sales\n2004-01,150\n2004-02,151\n2004-01,152\n",
            ["column month, line 4", "expected each time once, found '2004-01' on lines 2 and 4"],
        ),
        # Out of order.
        (
            "month,sales\n2004-01,150\n2004-03,151\n2004-02,152\n",
            ["column month, line 4", "expected times in increasing order"],
        ),
        # A gap: one row taken as one step though many months lie between.
        (
            "month,sales\n2004-01,150\n2004-05,151\n2006-02,152\n",
            [
                "column month, line 3",
                "expected '2004-02', one period (MS) after '2004-01'",
                "found '2004-05'",
                "the periods between are missing",
                "data.missing: interpolate",
            ],
        ),
        ("month,sales\n2004-03,150\n", ["line 2", "expected '2004-01'", "after '2003-12'"]),
        # Another format than the training data's.
        ("month,sales\n2004-01-01,150\n", ["line 2", "expected a time like", "format %Y-%m"]),
        ("month,sales\n2004-01,150\nsoon,1\n", ["column month, line 3", "found 'soon'"]),
    ],
)
def test_times_must_continue_the_series(
    saved_stateful: Path, text: str, fragments: list[str]
) -> None:
    line = one_error_line(saved_stateful, text)
    for fragment in fragments:
        assert fragment in line, line
    with pytest.raises(DataError):
        predict(saved_stateful, text)


def test_no_history_rows_are_checked_among_themselves(saved_stateful: Path) -> None:
    series = fx.series_csv(saved_stateful.parent / "own.csv", seed=2).read_text()
    # Rows that carry their own history may start anywhere (here: where training did)...
    assert predict(saved_stateful, series, history=False).rows
    # ...but not skip a month.
    lines = series.splitlines()
    gapped = "\n".join([*lines[:10], *lines[11:]]) + "\n"
    line = one_error_line(saved_stateful, gapped, "--no-history")
    assert "column month, line 11: expected '2000-10'" in line and "found '2000-11'" in line


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_rows_are_read_as_training_data_is(saved_stateful: Path, sep: str) -> None:
    # The delimiter sniffed; decimal commas where it is not a comma. JSON as it is.
    rows = "month,sales\n2004-01,150.5\n2004-02,151.25\n"
    want = predict(saved_stateful, rows).rows
    assert predict(saved_stateful, rows.replace(",", sep).replace(".", ",")).rows == want
    json_rows = '{"month": "2004-01", "sales": 150.5}\n{"month": "2004-02", "sales": 151.25}\n'
    assert predict(saved_stateful, json_rows).rows == want


def test_rows_without_the_time_column_are_taken_in_order(saved_stateful: Path) -> None:
    rows = predict(saved_stateful, "sales\n150\n151\n").rows
    assert [r["origin"] for r in rows] == ["", ""]


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("inf", "expected a finite number, found 'inf'"),
        ("-Infinity", "expected a finite number, found '-Infinity'"),
        ("1e308", "expected a number within float32 range (±3.403e+38), found '1e308'"),
        ("-4e38", "found '-4e38'"),
        # In float32 range, but a billion training ranges away once scaled.
        ("1e30", "expected a value the model's fitted scaling maps within ±1e+06, found 1e+30"),
    ],
)
def test_values_out_of_range_are_one_line(saved_stateful: Path, value: str, fragment: str) -> None:
    text = f"month,sales\n2004-01,150\n2004-02,{value}\n2004-03,152\n"
    line = one_error_line(saved_stateful, text)
    assert "--input: column sales, line 3: " in line and fragment in line, line
    # No numpy warning leaks (one line on stderr is checked above), also in JSON rows.
    json_value = {"inf": "Infinity", "-Infinity": "-Infinity"}.get(value, value)
    rows = f'{{"month": "2004-01", "sales": {json_value}}}\n'
    assert "column sales, line 1" in one_error_line(saved_stateful, rows)


def test_a_huge_value_is_blamed_on_its_own_line(saved_stateful: Path) -> None:
    # Differencing spreads a huge value into the next row's difference too.
    text = "month,sales\n2004-01,1e12\n2004-02,150\n"
    line = one_error_line(saved_stateful, text)
    assert "column sales, line 2" in line and "found 1e+12" in line


# --------------------------------------------------------------------------- horizon


def test_horizon_is_capped(saved_stateful: Path) -> None:
    res = CliRunner().invoke(
        app, ["predict", "-m", str(saved_stateful), "--horizon", str(MAX_HORIZON + 1)]
    )
    assert res.exit_code == 2 and res.stdout == ""
    assert f"--horizon: expected a horizon of 1 to {MAX_HORIZON} steps, found" in res.stderr
    with pytest.raises(UsageError, match="--horizon"):
        predict(saved_stateful, horizon=MAX_HORIZON + 1)


class Counting(Engine):
    """An engine that counts its calls and the windows it was given."""

    def __init__(self, inner: Engine) -> None:
        self.inner, self.name = inner, inner.name
        self.n_states, self.state_sizes = inner.n_states, inner.state_sizes
        self.calls = self.windows = 0

    def __call__(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list]:
        self.calls += 1
        self.windows += len(x)
        return self.inner(x, states)


@pytest.mark.parametrize("fixture", ["saved_stateful", "saved_plain"])
def test_horizon_cost_is_linear(
    fixture: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = request.getfixturevalue(fixture)
    rows = [0]
    transform = Difference.transform

    def counted(self: Difference, X: Any) -> np.ndarray:
        rows[0] += len(X)
        return transform(self, X)

    monkeypatch.setattr(Difference, "transform", counted)
    predictor = Predictor(open_model_dir(model), "auto")
    engine = predictor.engine = Counting(predictor.engine)
    cost = {}
    # Small horizons: the Keras engine (saved_plain has no ONNX graph) takes a
    # tenth of a second a call, and counts, not seconds, show the growth (a
    # transform of the whole series so far would cost 48 rows and more a step).
    horizons = (4, 8, 16)
    for k in horizons:
        rows[0] = engine.calls = engine.windows = 0
        fc = predictor.predict(horizon=k)
        assert len(fc.rows) == k
        cost[k] = (rows[0], engine.calls, engine.windows)
    pre = predictor.pre
    for a, b in zip(horizons, horizons[1:], strict=False):
        # Each further step: one network call on one window...
        assert cost[b][1] - cost[a][1] == b - a
        assert cost[b][2] - cost[a][2] == b - a
        # ...and the differencing of one window's rows, not of the whole series so far.
        assert cost[b][0] - cost[a][0] <= (b - a) * (pre.context + pre.horizon)


def test_long_horizon_equals_feeding_the_forecasts_back(saved_stateful: Path) -> None:
    # Step j + 1 of a recursive forecast is the walk-forward forecast at the j-th
    # forecast fed back as an observation (the states carried through the same windows).
    ahead = predict(saved_stateful, horizon=6).rows
    assert [r["month"] for r in ahead] == [f"2004-{m:02d}" for m in range(1, 7)]
    fed = "month,sales\n" + "".join(f"{r['month']},{r['sales']!r}\n" for r in ahead[:5])
    walk = predict(saved_stateful, fed).rows
    np.testing.assert_allclose(
        [r["sales"] for r in walk], [r["sales"] for r in ahead[1:]], rtol=1e-6
    )
    # A longer horizon starts with the shorter one.
    longer = predict(saved_stateful, horizon=50).rows
    assert longer[:6] == ahead


def test_diverging_forecasts_stop_with_a_shorter_horizon() -> None:
    predictor = Predictor.__new__(Predictor)
    predictor.pre = Pipeline.__new__(Pipeline)
    predictor.pre.chain_ = [Log()]
    # A forecast <= 0 cannot be fed back through a log; shown as the last step it may be.
    with pytest.raises(UsageError, match=r"found 0 at step 12 .*use --horizon 11 or less"):
        predictor._check_fed_back(np.array([[1.0], [0.0]]), 10, 100)
    predictor._check_fed_back(np.array([[1.0], [0.0]]), 10, 12)
    with pytest.raises(UsageError, match="found inf at step 3 .not finite"):
        predictor._check_fed_back(np.array([[np.inf]]), 2, 100)
    with pytest.raises(DataError, match="expected a finite forecast, found nan at step 1"):
        predictor._check_fed_back(np.array([[np.nan]]), 0, 1)
