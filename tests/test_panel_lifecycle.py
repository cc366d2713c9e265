"""A panel's life-cycle: finalize, predict (--horizon, --series, --input, --future), update.

One tiny panel (3 monthly series of 40 rows, a known 0/1 covariate, a
calendar feature, a static category, a series embedding, differencing, a
model of horizon 2) is finalized once with 2 members; every test reads that
model directory.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT
from typer.testing import CliRunner

from lstmctl.cli import app

runner = CliRunner()
IDS = ("a", "b", "c")
ROWS = 40


def _month(t: int) -> str:
    return f"{2000 + t // 12}-{t % 12 + 1:02d}-01"


def _write_panel(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    lines = ["id,month,value,promo,kind"]
    for k, sid in enumerate(IDS):
        for t in range(ROWS):
            promo = int(rng.integers(0, 2))
            value = 1000 * (k + 1) + t + 5 * promo + np.sin(t)
            lines.append(f"{sid},{_month(t)},{value:.4f},{promo},{'xy'[k % 2]}")
    path = folder / "panel.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _spec(folder: Path, csv: Path) -> Path:
    raw = {
        "name": "panel-life",
        "data": {
            "path": str(csv),
            "series": "id",
            "time": "month",
            "target": "value",
            "known": ["promo"],
            "calendar": ["month"],
            "static": ["kind"],
            "categorical": ["kind"],
            "transforms": ["difference"],
            "window": {"lookback": 3, "horizon": 2},
            "split": {"test": 4},
        },
        "model": {"arch": "vanilla", "units": 4, "series_embedding": 2},
        "train": {"epochs": 2, "batch_size": 16},
        "evaluate": {"repeats": 2, "metrics": ["mase"]},
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("panel-life")
    csv = _write_panel(folder)
    spec = _spec(folder, csv)
    model = folder / "model"
    r = runner.invoke(app, ["finalize", str(spec), "--out", str(model), "--members", "2"])
    assert r.exit_code == 0, r.stderr
    future = folder / "future.csv"
    future.write_text(
        "id,month,promo\n"
        + "".join(f"{sid},{_month(ROWS + i)},{i % 2}\n" for sid in IDS for i in range(4))
    )
    return {"folder": folder, "csv": csv, "spec": spec, "model": model, "future": future}


def _predict(panel: dict[str, Any], *args: str, input: str | None = None) -> Any:
    return runner.invoke(app, ["predict", "--model", str(panel["model"]), *args], input=input)


def _frame(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_finalize_saves_each_series_state_as_json(panel: dict[str, Any]) -> None:
    model = panel["model"]
    pre = _strict((model / "preprocess.json").read_text())
    assert pre["kind"] == "panel" and pre["series_columns"] == ["id"]
    assert [s["id"] for s in pre["series"]] == list(IDS)
    assert pre["inputs"][-1] == "series_index" and pre["embedding"] is True
    for i, s in enumerate(pre["series"]):
        assert s["index"] == i and s["rows"] == ROWS
        assert s["static"] == {"kind": "xy"[i % 2]}
        # The last window (look-back 3 + the difference's lag 1), known covariate included.
        assert s["tail"]["labels"] == [_month(t) for t in range(ROWS - 4, ROWS)]
        assert set(s["tail"]["columns"]) == {"value", "promo"}
        assert s["pipeline"]["scale"]["targets"]  # its own fitted scaler
    assert pre["time"]["freq"] == "MS"
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["members"]["count"] == 2 and "intervals.json" in manifest["files"]
    assert "model.onnx" in manifest["files"] and "member-02.onnx" in manifest["files"]
    saved = _frame((model / "data.csv").read_text())
    assert list(saved.columns) == ["id", "month", "value", "promo", "kind"]
    assert len(saved) == ROWS * len(IDS)


def test_the_saved_pipelines_rebuild_the_training_inputs(panel: dict[str, Any]) -> None:
    from lstmctl.data.panel.state import PanelPipelines
    from lstmctl.data.prepare import prepare
    from lstmctl.spec import load_spec
    from lstmctl.spec.derive import final_spec

    data = prepare(final_spec(load_spec(panel["spec"])))
    saved = PanelPipelines.from_state(_strict((panel["model"] / "preprocess.json").read_text()))
    table = pd.read_csv(panel["csv"])
    lookback, horizon, context = 3, 2, 4
    per_series = ROWS - horizon - (context - 1)
    assert len(data.X_train) == per_series * len(IDS)
    for k, sid in enumerate(IDS):
        rows = table[table["id"] == sid].reset_index(drop=True)
        s = saved.by_id[sid]
        t = saved.inputs(s, rows[["value", "promo"]], pd.DatetimeIndex(rows["month"]))
        origins = np.arange(context - 1, ROWS - horizon)
        windows = t.inputs[origins[:, None] + np.arange(-lookback + 1, 1)]
        block = data.X_train[k * per_series : (k + 1) * per_series]
        np.testing.assert_allclose(windows, block, rtol=1e-5, atol=1e-5)


def test_predict_horizon_gives_one_block_per_series(panel: dict[str, Any]) -> None:
    r = _predict(panel, "--horizon", "3", "--future", str(panel["future"]), "--interval", "0.8")
    assert r.exit_code == 0, r.stderr
    out = _frame(r.stdout)
    assert list(out.columns) == [
        "series", "origin", "step", "month", "value", "value_lo_80", "value_hi_80"
    ]  # fmt: skip
    assert list(out["series"]) == [sid for sid in IDS for _ in range(3)]
    assert list(out["step"]) == [1, 2, 3] * 3
    assert set(out["origin"]) == {_month(ROWS - 1)}
    assert list(out["month"][:3]) == [_month(ROWS), _month(ROWS + 1), _month(ROWS + 2)]
    assert (out["value_lo_80"] <= out["value"]).all() and (out["value"] <= out["value_hi_80"]).all()
    # Each series forecast in its own units (the levels are about 1000, 2000, 3000).
    levels = out.groupby("series")["value"].mean()
    assert levels["a"] < levels["b"] < levels["c"]
    r = _predict(panel, "--horizon", "2", "--future", str(panel["future"]), "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["series"] for row in rows] == [sid for sid in IDS for _ in range(2)]


def test_series_option_and_unknown_ids(panel: dict[str, Any]) -> None:
    r = _predict(panel, "--series", "c,a", "--future", str(panel["future"]))
    assert r.exit_code == 0, r.stderr
    assert list(_frame(r.stdout)["series"]) == ["c", "c", "a", "a"]
    r = _predict(panel, "--series", "a,zz", "--future", str(panel["future"]))
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [
        "lstmctl: error: --series: expected a series the model was trained on, found 'zz'; "
        "known series: 'a', 'b', 'c'"
    ]
    r = _predict(panel, "--input", "-", input=f"id,month,value,promo\nq,{_month(ROWS)},1,0\n")
    assert r.exit_code == 2 and "found 'q'; known series: 'a', 'b', 'c'" in r.stderr
    assert "--input: column id, line 2" in r.stderr


def test_missing_known_values_name_the_column_and_steps(panel: dict[str, Any]) -> None:
    r = _predict(panel, "--horizon", "3")
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1
    assert "--future: column promo: expected the known covariate 'promo' of series 'a'" in r.stderr
    assert f"steps 1 ({_month(ROWS)}), 2 ({_month(ROWS + 1)})" in r.stderr
    short = panel["folder"] / "short-future.csv"
    short.write_text(f"id,month,promo\na,{_month(ROWS)},1\n")
    r = _predict(panel, "--series", "a", "--future", str(short))
    assert r.exit_code == 2 and f"steps 2 ({_month(ROWS + 1)})" in r.stderr


def test_input_rows_are_walk_forward_origins(panel: dict[str, Any]) -> None:
    rows = (
        "id,month,value,promo\n"
        f"a,{_month(ROWS)},1041,1\n"
        f"b,{_month(ROWS)},2040,0\n"
        f"a,{_month(ROWS + 1)},1042,0\n"
    )
    r = _predict(panel, "--input", "-", "--future", str(panel["future"]), input=rows)
    assert r.exit_code == 0, r.stderr
    out = _frame(r.stdout)
    assert list(out["series"]) == ["a"] * 4 + ["b"] * 2
    assert list(out["origin"]) == [_month(ROWS)] * 2 + [_month(ROWS + 1)] * 2 + [_month(ROWS)] * 2
    bad = f"id,month,value,promo\nb,{_month(ROWS - 1)},2040,0\n"
    r = _predict(panel, "--input", "-", input=bad)
    assert r.exit_code == 2 and r.stdout == ""
    assert "series 'b': expected rows that continue the saved series after" in r.stderr
    other = f"id,month,value,promo,kind\na,{_month(ROWS)},1041,1,y\n"
    r = _predict(panel, "--input", "-", "--future", str(panel["future"]), input=other)
    assert r.exit_code == 2 and r.stdout == ""
    assert "column kind, line 2: expected the static value series 'a' was trained with" in r.stderr


def test_recursive_and_walk_forward_paths_agree(panel: dict[str, Any]) -> None:
    # The saved end's forecast, fed from the saved last rows, equals the forecast at the
    # last row of the whole series given as --input rows with their own history.
    fut = ["--future", str(panel["future"])]
    ahead = _frame(_predict(panel, "--series", "b", *fut).stdout)
    table = pd.read_csv(panel["csv"])
    rows = table[table["id"] == "b"].drop(columns="kind").to_csv(index=False)
    r = _predict(panel, "--input", "-", "--no-history", *fut, input=rows)
    assert r.exit_code == 0, r.stderr
    walk = _frame(r.stdout)
    last = walk[walk["origin"] == _month(ROWS - 1)]
    np.testing.assert_allclose(last["value"].to_numpy(), ahead["value"].to_numpy(), rtol=1e-6)


def test_update_continues_each_series(panel: dict[str, Any]) -> None:
    new = panel["folder"] / "new.csv"
    new.write_text(
        "id,month,value,promo,kind\n"
        f"a,{_month(ROWS)},1041,1,x\nb,{_month(ROWS)},2041,0,y\na,{_month(ROWS + 1)},1042,0,x\n"
    )
    out = panel["folder"] / "updated"
    args = ["update", "--model", str(panel["model"]), "--data", str(new), "--epochs", "1"]
    r = runner.invoke(app, [*args, "--out", str(out), "--no-onnx"])
    assert r.exit_code == 0, r.stderr
    pre = _strict((out / "preprocess.json").read_text())
    ends = {s["id"]: (s["rows"], s["tail"]["labels"][-1]) for s in pre["series"]}
    assert ends == {
        "a": (ROWS + 2, _month(ROWS + 1)),
        "b": (ROWS + 1, _month(ROWS)),
        "c": (ROWS, _month(ROWS - 1)),
    }
    assert len(_frame((out / "data.csv").read_text())) == ROWS * 3 + 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["members"]["count"] == 2
    assert manifest["trained"]["fine_tuned"]["series_with_new_rows"] == 2
    gap = panel["folder"] / "gap.csv"
    gap.write_text(f"id,month,value,promo,kind\nc,{_month(ROWS + 2)},3041,1,x\n")
    other = panel["folder"] / "other"
    r = runner.invoke(app, [*args[:3], "--data", str(gap), "--epochs", "1", "--out", str(other)])
    assert r.exit_code == 2 and r.stdout == ""
    assert f"gap.csv: column month, line 2: series 'c': expected '{_month(ROWS)}'" in r.stderr


def test_raw_rows_reads_semicolon_csv_and_parquet(tmp_path: Path) -> None:
    from lstmctl.spec import Spec
    from lstmctl.workflows.modelfiles import raw_rows

    semi = tmp_path / "semi.csv"
    semi.write_text("month;sales;other\n2020-01;1,5;x\n2020-02;2,5;y\n")
    spec = Spec.model_validate(
        {"name": "s", "data": {"path": str(semi), "time": "month", "target": "sales"}}
    )
    assert raw_rows(spec) == "month,sales\n2020-01,1.5\n2020-02,2.5\n"
    pq = tmp_path / "t.parquet"
    pd.DataFrame({"month": ["2020-01", "2020-02"], "sales": [1.5, 2.5]}).to_parquet(pq)
    spec = Spec.model_validate(
        {"name": "s", "data": {"path": str(pq), "time": "month", "target": "sales"}}
    )
    assert raw_rows(spec) == "month,sales\n2020-01,1.5\n2020-02,2.5\n"


def test_predict_of_a_panel_imports_no_framework(panel: dict[str, Any]) -> None:
    model, future = str(panel["model"]), str(panel["future"])
    probe = (
        "import sys\n"
        "from lstmctl.serving.predict import predict\n"
        f"fc = predict({model!r}, horizon=1, future=open({future!r}).read())\n"
        "assert len(fc.rows) == 3\n"
        "heavy = ('tensorflow', 'keras', 'jax', 'scipy', 'sklearn', 'torch', 'pydantic')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ""


def _comma_rows() -> tuple[str, str]:
    rows = f"id,month,value,promo\na,{_month(ROWS)},1041.5,1\nb,{_month(ROWS)},2040.25,0\n"
    future = "id,month,promo\n" + "".join(
        f"{sid},{_month(ROWS + i)},{i % 2}\n" for sid in "ab" for i in range(1, 3)
    )
    return rows, future


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_input_and_future_are_read_as_training_data_is(
    panel: dict[str, Any], tmp_path: Path, sep: str
) -> None:
    # Sniffed delimiters, and decimal commas where the delimiter is not a comma.
    rows, future = _comma_rows()
    fut = tmp_path / "future.csv"
    fut.write_text(future)
    want = _predict(panel, "--input", "-", "--future", str(fut), input=rows)
    assert want.exit_code == 0, want.stderr
    other = tmp_path / "future-other.csv"
    other.write_text(future.replace(",", sep))
    text = rows.replace(",", sep).replace(".", ",")
    r = _predict(panel, "--input", "-", "--future", str(other), input=text)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == want.stdout


def test_future_may_be_a_pipe_but_not_a_directory(panel: dict[str, Any], tmp_path: Path) -> None:
    # `--future <(cat future.csv)`: the shell's pipe is read once, as a file is.
    model, future = str(panel["model"]), str(panel["future"])
    cli = f"{sys.executable} -c 'from lstmctl.cli import main; main()'"
    script = f"{cli} predict --model {model} --horizon 2 --future <(cat {future}) --series a"
    p = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    assert list(_frame(p.stdout)["series"]) == ["a", "a"]
    r = _predict(panel, "--future", str(tmp_path))
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == f"lstmctl: error: {tmp_path}: --future: expected a file, found a directory\n"


def _update(panel: dict[str, Any], rows: str, name: str) -> Any:
    new = panel["folder"] / f"{name}.csv"
    new.write_text(rows)
    out = panel["folder"] / name
    args = ["update", "--model", str(panel["model"]), "--data", str(new), "--epochs", "1"]
    return runner.invoke(app, [*args, "--out", str(out), "--no-onnx"])


def test_update_of_an_empty_file_says_so(panel: dict[str, Any]) -> None:
    r = _update(panel, "", "empty")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.endswith(
        "empty.csv: expected a header line and data rows, found an empty file\n"
    )


def test_update_rows_may_leave_out_static_columns(panel: dict[str, Any]) -> None:
    # As predict --input rows may: each series keeps its saved static values.
    rows = f"id,month,value,promo\nb,{_month(ROWS)},2041,0\na,{_month(ROWS)},1041,1\n"
    r = _update(panel, rows, "no-static")
    assert r.exit_code == 0, r.stderr
    out = panel["folder"] / "no-static"
    saved = _frame((out / "data.csv").read_text())
    assert list(saved.columns) == ["id", "month", "value", "promo", "kind"]
    assert list(saved["kind"].iloc[-2:]) == ["y", "x"]
    pre = _strict((out / "preprocess.json").read_text())
    assert [s["static"] for s in pre["series"]] == [{"kind": "x"}, {"kind": "y"}, {"kind": "x"}]
    # Given, a static value must be the series' saved one.
    r = _update(panel, f"id,month,value,promo,kind\nb,{_month(ROWS)},2041,0,x\n", "other-static")
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1
    assert "column kind: expected a static column to be constant within each series" in r.stderr
    assert "found 'y' and 'x' in series 'b'" in r.stderr
