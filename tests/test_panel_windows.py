"""A panel's windows by index (lstmctl.data.window_index): the same windows, not the copies.

A panel's prepared windows are start indices into the rows of all its series
(the rows once), and the compiled trainer gathers each batch from them. These
tests check that nothing changes but the memory: the windows equal the
materialized ones exactly, a fit on them gives the forecasts of a fit on the
copies, and the prepared data of a 200-series panel is a small multiple of
its values' bytes.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from lstmctl.data.prepare import prepare
from lstmctl.data.window_index import IndexedWindows, held_nbytes
from lstmctl.spec import Spec

PARTS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


def write_panel(folder: Path, lengths: list[int], seed: int = 0) -> Path:
    """A long table of monthly series of the given lengths, levels orders of magnitude apart."""
    rng = np.random.default_rng(seed)
    lines = ["id,month,value"]
    for k, n in enumerate(lengths):
        level = 10.0 ** rng.uniform(0, 3)
        for t in range(n):
            month = f"{2000 + t // 12}-{t % 12 + 1:02d}-01"
            value = level * (1 + 0.2 * np.sin(2 * np.pi * t / 12) + 0.05 * rng.standard_normal())
            lines.append(f"s{k:03d},{month},{value:.6f}")
    path = folder / "panel.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def spec_for(path: Path, series: bool = True, **data: Any) -> Spec:
    raw: dict[str, Any] = {
        "name": "panel-windows",
        "data": {
            "path": str(path),
            "series": "id" if series else None,
            "time": "month",
            "target": "value",
            "window": {"lookback": 4, "horizon": 2},
            "split": {"test": 5, "validation": 4},
            **data,
        },
        "model": {"arch": "vanilla", "units": 4},
        "train": {"epochs": 3, "batch_size": 8},
        "evaluate": {"repeats": 2, "metrics": ["mase", "rmse"]},
    }
    return Spec.model_validate(raw)


def test_indexed_windows_select_and_materialize_as_the_array_of_copies() -> None:
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((50, 3)).astype(np.float32)
    starts = np.array([0, 7, 3, 40, 46])
    w = IndexedWindows(rows, starts, 4)
    full = sliding_window_view(rows, 4, axis=0).transpose(0, 2, 1)[starts]
    assert w.shape == full.shape and len(w) == 5 and w.dtype == np.float32
    assert np.array_equal(np.asarray(w), full)
    assert np.array_equal(w.materialize(), full)
    for key in (slice(1, 4), np.array([4, 0, 2]), np.array([True, False, True, False, True])):
        picked = w[key]
        assert isinstance(picked, IndexedWindows) and picked.rows is rows
        assert np.array_equal(np.asarray(picked), full[key])
    assert np.array_equal(w[3], full[3])
    assert np.array_equal(w[:, -1, 0], full[:, -1, 0])
    assert np.array_equal(w[2, 1:, :2], full[2, 1:, :2])
    assert np.array_equal(np.concatenate([w[:2], w[2:]]), full)
    again = pickle.loads(pickle.dumps(w))
    assert np.array_equal(np.asarray(again), full)
    # The rows count once, however many windows share them.
    assert held_nbytes([w, w[:2]]) == rows.nbytes + w.starts.nbytes + w[:2].starts.nbytes
    with pytest.raises(ValueError, match="reach past"):
        IndexedWindows(rows, np.array([47]), 4)


def test_panel_windows_are_each_series_own_windows_exactly(tmp_path: Path) -> None:
    """Each part's windows, series after series, are those of each series prepared alone
    (same split, same per-series scaler), bit for bit."""
    lengths = [30, 41, 25]
    panel_path = write_panel(tmp_path, lengths)
    panel = prepare(spec_for(panel_path))
    for name in PARTS:
        assert isinstance(getattr(panel, name), IndexedWindows), name
    table = panel_path.read_text().splitlines()
    alone: dict[str, list[np.ndarray]] = {name: [] for name in PARTS}
    for k in range(len(lengths)):
        one = tmp_path / f"s{k}"
        one.mkdir()
        rows = [line for line in table[1:] if line.startswith(f"s{k:03d},")]
        path = one / "series.csv"
        path.write_text("\n".join([table[0], *rows]) + "\n")
        single = prepare(spec_for(path, series=False))
        assert single.panel is None and isinstance(single.X_train, np.ndarray)
        for name in PARTS:
            alone[name].append(getattr(single, name))
    for name in PARTS:
        assert np.array_equal(np.asarray(getattr(panel, name)), np.concatenate(alone[name])), name


def test_fused_fit_on_indexed_windows_forecasts_as_on_materialized_ones(tmp_path: Path) -> None:
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("keras was imported on another backend earlier in this process")
    from lstmctl.training.fused import fit_fused
    from lstmctl.training.program import device_arrays, layout

    spec = spec_for(write_panel(tmp_path, [30, 36, 28, 33]), calendar=["month"])
    data = prepare(spec)
    copies = replace(data, **{name: np.asarray(getattr(data, name)) for name in PARTS})
    # The indexed data reaches the device as rows and starts; the copies as windows.
    lay, X, y = layout(spec, data)
    assert {"rows", "xs", "xsv"} <= set(device_arrays(lay, X, y, data))
    lay, X, y = layout(spec, copies)
    assert {"X", "Xv"} <= set(device_arrays(lay, X, y, copies))
    indexed, materialized = fit_fused(spec, data), fit_fused(spec, copies)
    for a, b in zip(indexed, materialized, strict=True):
        assert a.error is None and b.error is None
        assert a.test_pred.shape == (len(data.X_test), 2, 1)
        np.testing.assert_allclose(a.test_pred, b.test_pred, rtol=0, atol=1e-6)
        np.testing.assert_allclose(a.val_pred, b.val_pred, rtol=0, atol=1e-6)
        np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)


def test_a_200_series_panel_takes_a_small_multiple_of_its_values(tmp_path: Path) -> None:
    path = write_panel(tmp_path, [120] * 200)
    spec = spec_for(path, calendar=["month"], window={"lookback": 24, "horizon": 1})
    data = prepare(spec)
    parts = [getattr(data, name) for name in PARTS]
    values = 200 * 120 * 8  # the table's target column, float64
    held = held_nbytes(parts)
    copies = sum(a.materialized_nbytes for a in parts)
    assert held < 5 * values, (held, values)
    assert copies > 10 * held  # what the copies would have taken, for scale
