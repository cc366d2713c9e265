"""A panel's skipped time steps (filled per ``data.missing``, or refused) and a Parquet
file read without pyarrow: each a clear DataError, never a silent squeeze or a traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.data.loading import load_long
from lstmctl.data.panel.gaps import fill_gaps
from lstmctl.data.panel.table import split_series
from lstmctl.data.prepare import prepare
from lstmctl.data.reading import read_table
from lstmctl.errors import DataError
from lstmctl.spec import Spec

runner = CliRunner()


def write_panel(folder: Path, skip: dict[str, set[int]] | None = None) -> Path:
    """Two monthly series of 30 steps, value = 100 * (series number) + step: linear, so
    interpolation restores a skipped step exactly. ``skip``: steps left out per series."""
    skip = skip or {}
    lines = ["store,month,sales,region"]
    for k, sid in enumerate(("north", "south")):
        for t in range(30):
            if t not in skip.get(sid, set()):
                month = f"{2020 + t // 12}-{t % 12 + 1:02d}"
                lines.append(f"{sid},{month},{100 * (k + 1) + t:.1f},{'ns'[k]}")
    path = folder / "panel.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def panel_spec(path: Path, **data: Any) -> Spec:
    raw: dict[str, Any] = {
        "data": {
            "path": str(path),
            "series": "store",
            "time": "month",
            "target": "sales",
            "static": ["region"],
            "categorical": ["region"],
            "window": {"lookback": 3, "horizon": 1},
            "split": {"test": 4},
            **data,
        },
        "model": {"arch": "vanilla", "units": 4},
        "train": {"epochs": 1, "batch_size": 8},
        "evaluate": {"repeats": 1},
    }
    return Spec.model_validate(raw)


def test_a_gap_is_filled_by_interpolation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_panel(tmp_path, {"north": {14, 15}})  # 2021-03 and 2021-04 missing
    prepared = prepare(panel_spec(path, missing="interpolate"))
    assert prepared.panel is not None
    north = prepared.panel.series[0]
    assert north.labels[13:17] == ["2021-02", "2021-03", "2021-04", "2021-05"]
    np.testing.assert_allclose(north.values[:, 0], 100 + np.arange(30))
    assert "series 'north': 2 missing steps inserted" in caplog.text
    assert "'south'" not in caplog.text


def test_a_gap_is_refused_with_drop(tmp_path: Path) -> None:
    path = write_panel(tmp_path, {"north": {14, 15}})
    with pytest.raises(DataError) as info:
        prepare(panel_spec(path, missing="drop"))
    assert str(info.value) == (
        f"{path}: column month: series 'north': expected one row per month, found a gap of "
        "3 months between '2021-02' and '2021-05' (lines 15 and 16): 2 months missing; add "
        "the missing rows to the file, or set data.missing to interpolate, ffill or mask "
        "to fill them"
    )


def test_a_gap_is_refused_without_one_frequency(tmp_path: Path) -> None:
    # north is monthly with a gap, south quarterly: nothing to fill north's gap by.
    path = tmp_path / "mixed.csv"
    north = [f"north,{2020 + m // 12}-{m % 12 + 1:02d},1.0,n" for m in range(24) if m not in (4, 5)]
    south = [f"south,{2020 + q // 4}-{3 * (q % 4) + 1:02d},2.0,s" for q in range(8)]
    path.write_text("store,month,sales,region\n" + "\n".join(north + south) + "\n")
    with pytest.raises(DataError) as info:
        prepare(panel_spec(path))
    assert (
        "series 'north': expected one row per month, found a gap of 3 months between "
        "'2020-04' and '2020-07' (lines 5 and 6): 2 months missing" in str(info.value)
    )
    assert "all series keep one frequency, and series 'south' keeps one row per 3 months" in str(
        info.value
    )


def test_uneven_times_are_left_as_they_are(tmp_path: Path) -> None:
    # The 1st, 8th, 15th and 22nd of each month: no one step, so no gap to speak of.
    spec = panel_spec(write_panel(tmp_path))
    series = split_series(load_long(spec.data), spec.data)
    for rows in series:
        days = [f"{2021 + t // 48}-{t // 4 % 12 + 1:02d}-{1 + 7 * (t % 4):02d}" for t in range(30)]
        rows.times = pd.Series(pd.to_datetime(days), index=rows.times.index)
    assert all(a is b for a, b in zip(fill_gaps(series, spec.data), series, strict=True))


def test_a_panel_without_gaps_is_unchanged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = panel_spec(write_panel(tmp_path))
    series = split_series(load_long(spec.data), spec.data)
    assert all(a is b for a, b in zip(fill_gaps(series, spec.data), series, strict=True))
    prepared = prepare(spec)
    assert prepared.panel is not None
    np.testing.assert_allclose(prepared.panel.series[1].values[:, 0], 200 + np.arange(30))
    assert "inserted" not in caplog.text


# Not in the bad-inputs corpus: it cannot uninstall pyarrow, so the import is blocked here.
def test_parquet_without_pyarrow_says_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "panel.parquet"
    pd.DataFrame({"month": ["2021-01"], "sales": [1.0]}).to_parquet(path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError) as info:
        read_table(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: reading a Parquet file needs the pyarrow package")
    assert "pip install pyarrow" in message

    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"data: {{path: {path}, time: month, target: sales}}\nmodel: {{arch: vanilla}}\n"
    )
    r = runner.invoke(app, ["validate", str(spec)])
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr == f"lstmctl: error: {message}\n"


@pytest.mark.parametrize("every", [7, 2])
@pytest.mark.parametrize("missing", ["drop", "interpolate"])
def test_a_series_at_another_frequency_is_refused(tmp_path: Path, every: int, missing: str) -> None:
    # north and south are daily, east every `every` days: its windows would read
    # a week (or two days) as a day, with no gap to tell.
    start = pd.Timestamp("2021-03-01")
    lines = ["store,month,sales,region"]
    for sid, step in (("north", 1), ("east", every), ("south", 1)):
        for t in range(20):
            day = (start + pd.Timedelta(days=step * t)).date()
            lines.append(f"{sid},{day},{t + 1.0},{sid[0]}")
    path = tmp_path / "days.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        prepare(panel_spec(path, missing=missing))
    per = "week" if every == 7 else "2 days"
    second = (start + pd.Timedelta(days=every)).date()
    assert str(info.value) == (
        f"{path}: column month: series 'east' keeps one row per {per}, but the panel one "
        "row per day (2 of its 3 series): expected every series at the panel's frequency, "
        f"found '2021-03-01', '{second}', ... in series 'east'; resample it to the "
        "panel's step or give it its own file"
    )
