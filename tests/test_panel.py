"""Panels (``data.series``): many series in one long table, one model, scored per series."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.data.prepare import prepare
from lstmctl.errors import DataError
from lstmctl.spec import Spec
from lstmctl.spec.derive import final_spec

runner = CliRunner()


def write_panel(folder: Path, lengths: dict[str, int], known: bool = False, seed: int = 0) -> Path:
    """A long table, series after series: value = 1000 * series number + time step (plus
    a small wiggle), so any value tells its series and step; ``promo`` a known 0/1."""
    rng = np.random.default_rng(seed)
    lines = ["id,month,value,promo,kind"]
    for k, (sid, n) in enumerate(lengths.items()):
        for t in range(n):
            month = f"{2000 + t // 12}-{t % 12 + 1:02d}-01"
            value = 1000 * (k + 1) + t + 0.1 * np.sin(t)
            promo = int(rng.integers(0, 2)) if known else 0
            lines.append(f"{sid},{month},{value:.6f},{promo},{'ab'[k % 2]}")
    path = folder / "panel.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def panel_spec(path: Path, **data: Any) -> Spec:
    raw: dict[str, Any] = {
        "name": "panel",
        "data": {
            "path": str(path),
            "series": "id",
            "time": "month",
            "target": "value",
            "window": {"lookback": 3, "horizon": 1},
            "split": {"test": 4},
            **data,
        },
        "model": {"arch": "vanilla", "units": 4},
        "train": {"epochs": 2, "batch_size": 16},
        "evaluate": {"repeats": 2, "metrics": ["mase", "rmse"]},
    }
    return Spec.model_validate(raw)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lengths=st.lists(st.integers(12, 30), min_size=1, max_size=4),
    lookback=st.integers(1, 4),
    horizon=st.integers(1, 3),
    test=st.sampled_from([3, 4, 0.25]),
)
def test_windows_never_cross_series(
    tmp_path: Path, lengths: list[int], lookback: int, horizon: int, test: int | float
) -> None:
    path = write_panel(tmp_path, {f"s{i}": n for i, n in enumerate(lengths)})
    spec = panel_spec(
        path,
        scale={"kind": "none"},
        window={"lookback": lookback, "horizon": horizon},
        split={"test": test},
    )
    data = prepare(spec)
    for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)):
        steps = np.concatenate([X[:, :, 0], y[:, :, 0]], axis=1)
        series = np.floor(steps / 1000)
        # One series per window, and consecutive steps of it.
        assert (series == series[:, :1]).all()
        assert np.allclose(np.diff(np.round(steps - 1000 * series)), 1.0)
    # Each series' test windows are its own last ones, in the order of the ids.
    assert data.panel is not None
    assert (np.diff(data.panel.test_series) >= 0).all()
    for k, part in enumerate(data.panel.test_slices()):
        assert (np.floor(data.actual_test[part] / 1000) == k + 1).all()


def test_per_series_scaling_is_fitted_on_each_training_part_only(tmp_path: Path) -> None:
    path = write_panel(tmp_path, {"a": 30, "b": 30})
    spec = panel_spec(path, scale={"kind": "minmax", "range": [0, 1]})
    data = prepare(spec)
    assert data.state["scale_per"] == "series"  # the default with data.series
    # Training windows are pooled series after series (equal lengths: half each). The
    # rows they cover are each series' training rows, which its own scaler maps onto
    # exactly [0, 1], although series b's values are about 1000 above a's.
    rows = np.concatenate([data.X_train[:, :, 0], data.y_train[:, :, 0]], axis=1)
    by_series = rows.reshape(2, -1)
    assert by_series.min(axis=1) == pytest.approx([0, 0], abs=1e-6)
    assert by_series.max(axis=1) == pytest.approx([1, 1], abs=1e-6)
    # Changing a series' last (test) value changes nothing in the training windows.
    text = path.read_text().splitlines()
    text[-1] = text[-1].replace(text[-1].split(",")[2], "99999")
    path.write_text("\n".join(text) + "\n")
    again = prepare(spec)
    assert np.array_equal(again.X_train, data.X_train)
    assert np.array_equal(again.y_train, data.y_train)
    # One scaler for all: the series no longer each span [0, 1].
    pooled = prepare(panel_spec(path, scale={"kind": "minmax", "per": "global"}))
    rows = np.concatenate([pooled.X_train[:, :, 0], pooled.y_train[:, :, 0]], axis=1)
    assert rows.reshape(2, -1).max(axis=1)[0] < 0.1


def test_one_series_panel_prepares_as_the_single_series_path(tmp_path: Path) -> None:
    path = write_panel(tmp_path, {"only": 40})
    common = {
        "transforms": ["difference"],
        "scale": {"kind": "minmax", "range": [-1, 1]},
        "split": {"test": 6},
    }
    panel = prepare(panel_spec(path, **common))
    raw = panel_spec(path, **common).dump()
    raw["data"]["series"] = None
    single = prepare(Spec.model_validate(raw))
    assert single.panel is None
    for name in ("X_train", "y_train", "X_test", "y_test", "actual_test", "persistence_test"):
        assert np.array_equal(getattr(panel, name), getattr(single, name)), name
    assert panel.test_labels == single.test_labels
    pred = np.zeros_like(single.y_test)
    assert np.allclose(panel.inverse(pred), single.inverse(pred))


def test_known_covariates_are_given_for_the_forecast_steps(tmp_path: Path) -> None:
    path = write_panel(tmp_path, {"a": 30, "b": 30}, known=True)
    spec = panel_spec(
        path,
        known=["promo"],
        calendar=["month"],
        static=["kind"],
        categorical=["kind"],
        scale={"kind": "none"},
        window={"lookback": 3, "horizon": 2},
    )
    data = prepare(spec)
    names = data.input_names
    assert names[:2] == ["value", "promo"]
    assert {"promo@+1", "promo@+2", "month_sin@+2", "kind=a", "kind=b"} <= set(names)
    lines = path.read_text().splitlines()[1:]
    promo = {
        (r.split(",")[0], round(float(r.split(",")[2]), 3)): int(r.split(",")[3]) for r in lines
    }
    for X, y in ((data.X_test, data.y_test),):
        for w in range(len(X)):
            sid = "a" if X[w, -1, 0] < 2000 else "b"
            for k in (1, 2):
                at = (sid, round(float(y[w, k - 1, 0]), 3))
                assert X[w, -1, names.index(f"promo@+{k}")] == promo[at]


def test_bad_panels_name_the_series(tmp_path: Path) -> None:
    path = write_panel(tmp_path, {"long": 30, "tiny": 6})
    with pytest.raises(DataError, match="series 'tiny' is too short"):
        prepare(panel_spec(path))
    data = prepare(panel_spec(path, short_series="skip"))
    assert data.panel is not None and list(data.panel.skipped) == ["tiny"]
    # finalize prepares a panel with no test part (its life-cycle: test_panel_lifecycle.py)
    final = prepare(final_spec(panel_spec(path, short_series="skip")))
    assert final.panel is not None and not len(final.X_test) and len(final.X_train)


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("panel")
    path = write_panel(folder, {"a": 30, "b": 36, "c": 30, "tiny": 5})
    spec = panel_spec(path, short_series="skip").dump()
    spec["runs_dir"] = str(folder / "runs")
    spec["evaluate"]["baselines"] = ["persistence", "drift"]
    spec["model"]["series_embedding"] = 2  # the learned series vector trains too
    (folder / "spec.json").write_text(json.dumps(spec))
    r = runner.invoke(app, ["-q", "run", str(folder / "spec.json"), "--format", "json"])
    assert r.exit_code == 0, r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    table = runner.invoke(app, ["-q", "run", str(folder / "spec.json")])
    assert table.exit_code == 0, table.stderr
    out["_table"] = table.stdout
    out["_forecasts"] = (Path(out["run_dir"]) / "forecasts.csv").read_text()
    out["_grid"] = (Path(out["run_dir"]) / "forecast.png").exists()
    return out


def test_json_has_per_series_and_the_aggregate_is_their_mean(panel_run: dict[str, Any]) -> None:
    per = panel_run["per_series"]
    assert sorted(per) == ["a", "b", "c"]
    assert panel_run["skipped_series"].keys() == {"tiny"}
    for m in ("mase", "rmse"):
        values = panel_run["metrics"][m]["values"]
        means = np.mean([per[s]["metrics"][m]["values"] for s in per], axis=0)
        assert values == pytest.approx(list(means))
        for b in ("persistence", "drift"):
            base = np.mean([per[s]["baselines"][b][m] for s in per])
            assert panel_run["baselines"][b][m] == pytest.approx(base)
    assert set(per["a"]) == {"metrics", "baselines", "skill"}
    assert set(per["a"]["metrics"]["rmse"]) >= {"mean", "std", "values"}


def test_table_and_forecasts_show_the_series(panel_run: dict[str, Any]) -> None:
    assert "series beat persistence" in panel_run["_table"]
    assert "tiny" in panel_run["_table"]  # listed as left out
    header = panel_run["_forecasts"].splitlines()[0].split(",")
    assert header[0] == "series"
    rows = panel_run["_forecasts"].splitlines()[1:]
    assert {r.split(",")[0] for r in rows} == {"a", "b", "c"}
    assert panel_run["_grid"]  # the best and worst series' test parts


@pytest.mark.parametrize("arch", ["vanilla", "stacked", "encoder_decoder"])
def test_series_embedding_reads_the_last_input_column(arch: str) -> None:
    from lstmctl.models.registry import Shapes, build_model
    from lstmctl.spec import ModelSpec

    shapes = Shapes(lookback=4, n_inputs=3, horizon=2, n_targets=1, series_embedding=(5, 2))
    model = build_model(ModelSpec(arch=arch, units=3, series_embedding=2), shapes)
    assert model.get_layer("series_embedding").input_dim == 5
    x = np.zeros((2, 4, 3), dtype=np.float32)
    x[1, :, -1] = 4.0  # the second window is series 4: another vector, another forecast
    out = np.asarray(model([x]))
    assert out.shape == (2, 2, 1)
    assert not np.allclose(out[0], out[1])
