"""Predicting with a saved model: same numbers as the model in memory, clean stdout."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import lifecycle_fixtures as fx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.data.pipeline import Pipeline
from lstmctl.modeldir.format import open_model_dir
from lstmctl.serving.predict import predict

# The session's saved models (see lifecycle_fixtures), bound here for pytest to find.
lifecycle_dir = fx.lifecycle_dir
saved_plain = fx.saved_plain
saved_stateful = fx.saved_stateful


NEW_ROWS = "month,sales\n2004-01,199.5\n2004-02,204.0\n2004-03,201.25\n"


def test_round_trip_equals_the_models_own_predictions(saved_plain: Path) -> None:
    """Predict's preprocessing + inversion against prepare()'s windows and the loaded model."""
    from lstmctl.data.prepare import prepare
    from lstmctl.spec.derive import final_spec

    md = open_model_dir(saved_plain)
    spec = final_spec(md.spec())
    data = prepare(spec)
    model = md.load_keras()
    pred = np.asarray(model.predict(data.X_train, verbose=0))[:, 0, 0]
    series = pd.read_csv(spec.data.path)["sales"].to_numpy()
    scale = md.preprocess["scale"]["targets"]["columns"]["sales"]
    # Window k forecasts row k + 4 (lag 1 + lookback 3) from the actual row before it.
    origins = np.arange(3, 3 + len(pred))
    expected = series[origins] + (pred - scale["min"]) / scale["scale"]

    whole = Path(spec.data.path).read_text()
    fc = predict(md, whole, engine="keras", history=False)
    got = np.array([r["sales"] for r in fc.rows])
    assert len(got) == len(expected) + 1  # predict also forecasts past the last row
    np.testing.assert_allclose(got[:-1], expected, rtol=1e-6)
    assert fc.rows[0]["origin"] == "2000-04" and fc.rows[0]["month"] == "2000-05"


def test_csv_from_a_file_and_json_from_stdin(saved_plain: Path, tmp_path: Path) -> None:
    rows = tmp_path / "new.csv"
    rows.write_text(NEW_ROWS)
    runner = CliRunner()
    res = runner.invoke(app, ["predict", "--model", str(saved_plain), "--input", str(rows)])
    assert res.exit_code == 0, res.stderr
    table = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["origin"] for r in table] == ["2004-01", "2004-02", "2004-03"]
    assert [r["month"] for r in table] == ["2004-02", "2004-03", "2004-04"]
    assert all(np.isfinite(float(r["sales"])) for r in table)

    res2 = runner.invoke(
        app, ["predict", "-m", str(saved_plain), "-i", "-", "--format", "json"], input=NEW_ROWS
    )
    assert res2.exit_code == 0, res2.stderr
    records = json.loads(res2.stdout)  # nothing but the JSON document on stdout
    assert [r["sales"] for r in records] == [float(r["sales"]) for r in table]

    lines = "\n".join(
        json.dumps({"month": m, "sales": float(v)})
        for m, v in (line.split(",") for line in NEW_ROWS.splitlines()[1:])
    )
    res3 = runner.invoke(app, ["predict", "-m", str(saved_plain), "-i", "-"], input=lines)
    assert res3.exit_code == 0, res3.stderr
    assert res3.stdout == res.stdout


def test_recursive_horizon_feeds_forecasts_back(saved_plain: Path) -> None:
    ahead = predict(saved_plain, horizon=3, engine="keras").rows
    assert [r["step"] for r in ahead] == [1, 2, 3]
    assert [r["month"] for r in ahead] == ["2004-01", "2004-02", "2004-03"]
    assert {r["origin"] for r in ahead} == {"2003-12"}
    # Step 2 is the one-step forecast once step 1's forecast is observed.
    fed = f"month,sales\n2004-01,{ahead[0]['sales']!r}\n"
    again = predict(saved_plain, fed, engine="keras").rows
    assert again[0]["sales"] == pytest.approx(ahead[1]["sales"], rel=1e-6)


def test_stateful_onnx_and_keras_engines_agree(saved_stateful: Path) -> None:
    md = open_model_dir(saved_stateful)
    assert md.has("model.onnx")
    assert [i["name"] for i in md.manifest["inputs"]] == ["window", "lstm_1_h", "lstm_1_c"]
    assert len(md.preprocess["states"]) == 2  # h and c after the training rows
    for kwargs in ({"text": NEW_ROWS}, {"horizon": 4}, {"text": NEW_ROWS, "horizon": 2}):
        a = predict(md, engine="onnx", **kwargs)  # type: ignore[arg-type]
        b = predict(md, engine="keras", **kwargs)  # type: ignore[arg-type]
        assert a.engine == "onnx" and b.engine == "keras"
        va = np.array([r["sales"] for r in a.rows])
        vb = np.array([r["sales"] for r in b.rows])
        np.testing.assert_allclose(va, vb, rtol=1e-5)


def test_stateful_states_carry_through_new_rows(saved_stateful: Path) -> None:
    # The walk-forward forecast at the last new row and a one-step forecast from
    # the end of the same rows are the same computation.
    walk = predict(saved_stateful, NEW_ROWS, engine="onnx").rows
    ahead = predict(saved_stateful, NEW_ROWS, horizon=1, engine="onnx").rows
    assert ahead[0]["sales"] == pytest.approx(walk[-1]["sales"], rel=1e-6)
    # The saved states are the ones after the training rows, not zeros.
    states = open_model_dir(saved_stateful).preprocess["states"]
    assert all(np.abs(np.asarray(s)).max() > 0 for s in states)


def test_predict_imports_no_tensorflow_nor_keras(saved_stateful: Path) -> None:
    code = (
        "import sys; from lstmctl.serving.predict import predict; "
        f"f = predict({str(saved_stateful)!r}, horizon=2); "
        "assert f.engine == 'onnx'; "
        "bad = [m for m in ('tensorflow', 'keras', 'jax', 'sklearn') if m in sys.modules]; "
        "assert not bad, bad; print(len(f.rows))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "2"


def test_bad_input_is_one_line_exit_2(saved_plain: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["predict", "-m", str(saved_plain), "-i", "-"], input="month,amount\n2004-01,3\n"
    )
    assert res.exit_code == 2 and res.stdout == ""
    assert "column sales" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = runner.invoke(
        app, ["predict", "-m", str(saved_plain), "-i", "-"], input="month,sales\n2004-01,x\n"
    )
    assert res.exit_code == 2 and "line 2" in res.stderr
    res = runner.invoke(app, ["predict", "-m", str(saved_plain), "--engine", "onnx"])
    assert res.exit_code == 2 and "--engine keras" in res.stderr


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"month,sales\n2004-01,1,2\n", "line 2: expected 2 fields as in the header line, found 3"),
        (b"month,sales\n2004-01,1\n2004-02\n", "line 3: expected 2 fields"),
        (b"month,sales\n2004-01,\xe9\n", "line 2: expected UTF-8 text, found byte 0xe9"),
        (b"", "expected rows (CSV with a header, or JSON lines), found nothing"),
        (b'{"month": "2004-01", "sales": [1]}\n', "expected a number, found '[1]'"),
    ],
)
def test_bad_input_files_are_one_line_exit_2(
    saved_plain: Path, tmp_path: Path, content: bytes, fragment: str
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_bytes(content)
    res = CliRunner().invoke(app, ["predict", "-m", str(saved_plain), "-i", str(rows)])
    assert res.exit_code == 2 and res.stdout == "", res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], res.stderr
    res = CliRunner().invoke(app, ["predict", "-m", str(saved_plain), "-i", str(tmp_path)])
    assert res.exit_code == 2 and "expected a file, found a directory" in res.stderr


def test_the_restored_pipeline_is_the_fitted_one() -> None:
    # predict applies Pipeline.from_state(state()): the same numbers as the fitted
    # pipeline, through JSON, for transforms, scalers, unknown and missing categories.
    train = pd.DataFrame(
        {
            "v": [1.0, 2.0, 4.0, 3.0, 5.0],
            "x": [0.5, 0.1, 0.9, 0.3, 0.7],
            "wind": ["NE", "SE", "cv", "NE", "SE"],
        }
    )
    new = pd.DataFrame(
        {
            "v": [6.0, 2.5, 7.0, 1.5],
            "x": [0.2, np.nan, 1.5, 0.4],
            "wind": ["SE", "NW", None, "cv"],  # unknown and missing values
        }
    )
    rows = pd.concat([train, new], ignore_index=True)
    for mask, scale in ((None, "minmax"), (-1.0, "standard"), (None, "none")):
        pipe = Pipeline(
            ["v"],
            features=["x", "wind"],
            categorical=["wind"],
            transforms=[{"kind": "log"}, {"kind": "difference", "lag": 1}],
            scale={"kind": scale, "range": (-1.0, 1.0)},
            missing="mask" if mask is not None else "interpolate",
            mask_value=mask,
            lookback=2,
        ).fit(train)
        state = json.loads(json.dumps(pipe.state()))
        back = Pipeline.from_state(state)
        assert back.state() == state and back.context == 3
        a, b = pipe.transform(rows), back.transform(rows)
        np.testing.assert_array_equal(a.inputs, b.inputs)
        np.testing.assert_array_equal(a.targets, b.targets)
        assert a.inputs.shape == (9, 1 + 1 + 3) and pipe.input_names_[2:] == [
            "wind=NE",
            "wind=SE",
            "wind=cv",
        ]
        pred = a.targets[1:, None, :]  # one-step "forecasts": the actual values
        origins = np.arange(len(rows) - 1)
        np.testing.assert_allclose(
            back.inverse_transform(pred, origins, b.stages)[:, 0], rows[["v"]][1:], rtol=1e-12
        )
