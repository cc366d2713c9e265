"""The plain Keras path on a panel (lstmctl.training.keras_batches): batches, not copies.

A panel's windows are by index; the Keras path feeds ``model.fit`` and
``model.predict`` a PyDataset that gathers each batch's windows from the
rows. These tests check that nothing changes but the memory: the fit equals
the fit on the materialized windows, every epoch holds every window once in
batches of ``batch_size`` (a shuffled repeat's order drawn from its seed alone),
and the full windows are never materialized.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_panel_windows import write_panel

from lstmctl.data.prepare import prepare
from lstmctl.data.prepared import Prepared
from lstmctl.data.window_index import IndexedWindows
from lstmctl.spec import Spec
from lstmctl.training.keras_batches import epoch_order, window_batches

BATCH = 10
PARTS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


def panel_spec(path: Path, shuffle: bool) -> Spec:
    raw: dict[str, Any] = {
        "name": "keras-panel",
        "backend": "tensorflow",  # the plain Keras path (fitted here on the test's JAX)
        "data": {
            "path": str(path),
            "series": "id",
            "time": "month",
            "target": "value",
            "window": {"lookback": 4, "horizon": 2},
            "split": {"test": 4, "validation": 3},
        },
        "model": {"arch": "vanilla", "units": 4},
        "train": {"epochs": 2, "batch_size": BATCH, "shuffle": shuffle},
        "evaluate": {"repeats": 1, "metrics": ["rmse"]},
    }
    return Spec.model_validate(raw)


def materialized(data: Prepared) -> Prepared:
    return replace(data, **{name: np.asarray(getattr(data, name)) for name in PARTS})


@pytest.fixture(scope="module")
def panel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_panel(tmp_path_factory.mktemp("panel"), [22, 27, 19])


@pytest.fixture
def full_copies(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """The shapes of the windows materialized more than a batch at a time, from now on."""
    full: list[tuple[int, ...]] = []
    materialize = IndexedWindows.materialize

    def counted(self: IndexedWindows, sel: Any = None) -> np.ndarray:
        out = materialize(self, sel)  # np.asarray(windows) comes here too
        if len(out) > BATCH:
            full.append(out.shape)
        return out

    monkeypatch.setattr(IndexedWindows, "materialize", counted)
    return full


def test_unshuffled_fit_on_batches_equals_the_fit_on_copies(
    panel_path: Path, full_copies: list[tuple[int, ...]]
) -> None:
    from lstmctl.training.keras_fit import fit_one

    spec = panel_spec(panel_path, shuffle=False)
    data = prepare(spec)
    assert isinstance(data.X_train, IndexedWindows)
    assert len(data.X_train) % BATCH  # a partial last batch is covered too
    copied = materialized(data)
    full_copies.clear()
    by_index = fit_one(spec, data, 0)
    assert full_copies == []  # the windows were never all copied
    copies = fit_one(spec, copied, 0)
    assert by_index.error is None and copies.error is None
    assert by_index.test_pred.shape == (len(data.X_test), 2, 1)
    np.testing.assert_allclose(by_index.test_pred, copies.test_pred, rtol=0, atol=1e-5)
    np.testing.assert_allclose(by_index.val_pred, copies.val_pred, rtol=0, atol=1e-5)
    for a, b in zip(by_index.weights, copies.weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    np.testing.assert_allclose(by_index.history["loss"], copies.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(by_index.history["val_loss"], copies.history["val_loss"], rtol=1e-5)
    # The counter does see a materialization.
    np.asarray(data.X_train)
    assert full_copies == [data.X_train.shape]


@pytest.mark.parametrize("seed", [None, 7])
def test_each_epoch_holds_every_window_once_in_batches_of_batch_size(seed: int | None) -> None:
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((40, 2)).astype(np.float32)
    targets = rows[:, :1] * 10
    starts = np.array([0, 3, 5, 9, 12, 20, 21, 25, 30, 33, 35])  # 11 windows
    X, y = IndexedWindows(rows, starts, 4), IndexedWindows(targets, starts + 4, 1)
    batch, epochs = 4, 3
    ds = window_batches(X, y, batch, epochs=epochs, seed=seed)
    per_epoch = 3  # ceil(11 / 4)
    assert len(ds) == ds.num_batches == per_epoch * epochs
    full_X, full_y = np.asarray(X), np.asarray(y)
    orders = []
    for e in range(epochs):
        seen = []
        for b in range(per_epoch):
            xb, yb = ds[e * per_epoch + b]
            assert 0 < len(xb) <= batch and xb.shape[1:] == (4, 2) and len(yb) == len(xb)
            # Each batch's windows are the windows themselves, targets beside their inputs.
            at = [int(np.flatnonzero((full_X == w).all(axis=(1, 2)))[0]) for w in xb]
            np.testing.assert_array_equal(yb, full_y[at])
            seen += at
        assert sorted(seen) == list(range(len(X)))
        orders.append(seen)
    if seed is None:
        assert all(order == list(range(len(X))) for order in orders)
    else:
        # A new order each epoch, the same for the same seed.
        assert orders[0] != orders[1]
        assert orders[1] == list(epoch_order(len(X), 1, seed))
        again = window_batches(X, y, batch, epochs=epochs, seed=seed)
        np.testing.assert_array_equal(again[per_epoch + 1][0], ds[per_epoch + 1][0])
    assert len(window_batches(X, None, batch)[0]) == 1  # inputs alone, for predict
    with pytest.raises(IndexError):
        ds[len(ds)]
