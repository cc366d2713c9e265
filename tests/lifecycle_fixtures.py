"""Saved models shared by the life-cycle tests (trained once per test session).

Once per session, not once per xdist worker: the first worker to need a model
trains it under a file lock in a folder both workers share, the other finds it
there. The tests only read these models (those that change one copy it first).
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import shared_temp


def series_csv(path: Path, n: int = 48, seed: int = 0) -> Path:
    """A monthly trending seasonal series with a date column."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 100 + 2 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)
    months = [f"{2000 + i // 12}-{i % 12 + 1:02d}" for i in range(n)]
    path.write_text(
        "month,sales\n" + "".join(f"{m},{v:.3f}\n" for m, v in zip(months, y, strict=True))
    )
    return path


def spec_file(path: Path, csv: Path, **model: object) -> Path:
    spec = {
        "name": "tiny",
        "seed": 3,
        "runs_dir": str(path.parent / "runs"),
        "data": {
            "path": str(csv),
            "time": "month",
            "target": "sales",
            "transforms": ["difference"],
            "scale": {"kind": "minmax", "range": [-1, 1]},
            "window": {"lookback": 3, "horizon": 1},
            "split": {"test": 6},
        },
        "model": {"arch": "vanilla", "units": 4, **model},
        "train": {"epochs": 3, "batch_size": 4},
        "evaluate": {"repeats": 2, "metrics": ["rmse", "mae"]},
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def lifecycle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = shared_temp(tmp_path_factory) / "lifecycle"
    folder.mkdir(exist_ok=True)
    return folder


def _once(folder: Path, name: str, build: Callable[[], Path]) -> Path:
    """``build()``'s model, built by the first worker that asks and found by the others."""
    done = folder / f"{name}.done"
    with open(folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            done.write_text(str(build()))
    return Path(done.read_text())


@pytest.fixture(scope="session")
def saved_plain(lifecycle_dir: Path) -> Path:
    """A stateless model, finalized without ONNX (Keras engine)."""
    from lstmctl.workflows.finalize import finalize

    def build() -> Path:
        csv = series_csv(lifecycle_dir / "series.csv")
        spec = spec_file(lifecycle_dir / "plain.yaml", csv)
        return finalize(spec, lifecycle_dir / "saved" / "plain", onnx=False).path

    return _once(lifecycle_dir, "plain", build)


@pytest.fixture(scope="session")
def saved_stateful(lifecycle_dir: Path) -> Path:
    """A stateful model exported to ONNX (its LSTM states are ONNX inputs and outputs)."""
    from lstmctl.workflows.finalize import finalize

    def build() -> Path:
        csv = series_csv(lifecycle_dir / "series2.csv", seed=1)
        spec = spec_file(lifecycle_dir / "stateful.yaml", csv, stateful=True)
        return finalize(spec, lifecycle_dir / "saved" / "stateful", onnx=True).path

    return _once(lifecycle_dir, "stateful", build)
