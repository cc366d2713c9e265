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
    spec["data"]["window"]["horizon"] = 2  # scores per step too
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
    # Per step, MASE too is each series' own (a pooled scale would mix their units).
    steps = panel_run["per_step"]
    assert set(steps) == {"ensemble", "persistence", "drift"}
    for name in steps:
        assert all(np.isfinite(steps[name]["mase"])) and len(steps[name]["mase"]) == 2
    assert "non_finite" not in panel_run


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


def test_per_step_scaled_scores_are_the_mean_over_series(tmp_path: Path) -> None:
    # horizon 2: per step, MASE of a panel is each series' own MASE at that step
    # (its own scale), averaged over the series, as the top-level score is.
    from lstmctl.evaluation.ensemble import per_step
    from lstmctl.evaluation.evaluate import scale_of, series_scales
    from lstmctl.evaluation.per_series import per_step_over_series, series_views

    path = write_panel(tmp_path, {"a": 30, "b": 36, "c": 30})
    spec = panel_spec(path, window={"lookback": 3, "horizon": 2})
    data = prepare(spec)
    names = ["mase", "rmsse", "rmse"]
    forecasts = {"ensemble": data.persistence_test + 0.5, "persistence": data.persistence_test}
    out = per_step_over_series(names, data, forecasts, series_scales(spec, data))
    for name, forecast in forecasts.items():
        views = series_views(data)
        parts = data.panel.test_slices() if data.panel else []
        each = [
            per_step(names, v.actual_test, forecast[part], scale_of(spec, v))
            for v, part in zip(views, parts, strict=True)
        ]
        for m in names:
            assert len(out[name][m]) == 2 and np.isfinite(out[name][m]).all()
            expected = np.mean([e[m] for e in each], axis=0)
            assert out[name][m] == pytest.approx(list(expected))


def write_flags(folder: Path, zero: str = "", no_promo: str = "") -> Path:
    """Three monthly stores with a 0/1 ``promo`` (data.known); ``zero``: a store that sold
    nothing, ``no_promo``: one that never had a promotion."""
    rng = np.random.default_rng(1)
    lines = ["store,month,sales,promo"]
    for k, sid in enumerate(("s1", "s2", "s3")):
        for t in range(30):
            sales = 0.0 if sid == zero else 10.0 * (k + 1) + t % 5
            promo = 0 if sid == no_promo else int(rng.integers(0, 2))
            lines.append(f"{sid},{2000 + t // 12}-{t % 12 + 1:02d}-01,{sales},{promo}")
    path = folder / "flags.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("per", ["series", "global"])
@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_a_column_constant_within_one_series_is_ordinary(
    tmp_path: Path, per: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="lstmctl")
    for case in ({"zero": "s3"}, {"no_promo": "s2"}):
        spec = panel_spec(
            write_flags(tmp_path, **case),
            series="store",
            target="sales",
            known=["promo"],
            scale={"kind": kind, "per": per},
        )
        data = prepare(spec)
        assert np.isfinite(np.asarray(data.X_train)).all()
        if per == "series":
            column = "sales" if "zero" in case else "promo"
            assert f"column {column} is constant over the training rows of 1 series" in caplog.text
            low = 0.0  # standard: 0; minmax [0, 1]: its low end
            sid = 2 if "zero" in case else 1
            # Every training input of that column in that series is the constant.
            n = len(data.X_train) // 3
            at = 0 if column == "sales" else data.input_names.index("promo")
            assert np.asarray(data.X_train)[sid * n : (sid + 1) * n, :, at] == pytest.approx(low)


def test_a_column_constant_in_every_series_is_refused_under_global_standard_scaling(
    tmp_path: Path,
) -> None:
    path = write_flags(tmp_path)
    path.write_text(path.read_text().replace(",1\n", ",0\n"))  # promo never set anywhere
    spec = panel_spec(
        path,
        series="store",
        target="sales",
        known=["promo"],
        scale={"kind": "standard", "per": "global"},
    )
    with pytest.raises(DataError, match="column promo: standard scaling needs values") as info:
        prepare(spec)
    assert "drop it from data.known" in str(info.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"split": {"test": 100}},
            "series 'a' is too short: lookback 3 + horizon 1 needs at least 4 training rows, "
            "found 0 (30 rows, 100 asked for test), so it needs at least 104 rows "
            "(lookback 3 + horizon 1 + test 100), and 2 more series are too short; no series "
            "is long enough: shorten data.window.lookback or data.window.horizon or data.split",
        ),
        (
            {"window": {"lookback": 3, "horizon": 30}, "short_series": "skip"},
            "series 'a' is too short: lookback 3 + horizon 30 needs at least 33 training rows, "
            "found 26 (30 rows, last 4 for test), so it needs at least 63 rows "
            "(lookback 3 + horizon 30 + test 30), and 2 more series are too short; "
            "data.short_series: skip would leave no series: shorten data.window.lookback or "
            "data.window.horizon or data.split",
        ),
    ],
)
def test_short_series_are_named_in_one_sentence(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    path = write_panel(tmp_path, {"a": 30, "b": 30, "c": 30})
    with pytest.raises(DataError) as info:
        prepare(panel_spec(path, **change))
    assert info.value.message == expected
    path = write_panel(tmp_path, {"long": 30, "a": 6, "b": 6})
    with pytest.raises(DataError) as info:
        prepare(panel_spec(path))
    assert info.value.message.endswith(
        "(lookback 3 + horizon 1 + test 4), and 1 more series are too short; shorten "
        "data.window.lookback or data.window.horizon or data.split, or set "
        "data.short_series: skip to leave such series out"
    )
