"""Shared fixtures: tiny data and specs, so every test runs in seconds."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# The test process trains on JAX (backend: auto); TensorFlow runs are checked
# in subprocesses, because Keras picks its backend once per process.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The tests fit hundreds of tiny models, each compiled once and run for a few
# steps: XLA's optimizing passes cost more than they save there (a third of the
# suite's CPU time). Results agree with optimized programs to the golden tests'
# tolerance; runs, reproductions and benchmarks keep XLA's defaults.
os.environ.setdefault(
    "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
)

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


_CACHE_ENV = "LSTMCTL_JAX_CACHE"
_CACHE_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """The ``lstmctl`` processes the tests start share one JAX compile cache, made for
    this session (the xdist workers inherit it) and removed after it: they neither
    read nor fill the user's own (``~/.cache/lstmctl``), so a run here is timed as on
    a fresh machine."""
    if not hasattr(config, "workerinput") and _CACHE_ENV not in os.environ:
        folder = tempfile.mkdtemp(prefix="lstmctl-tests-jax-")
        os.environ[_CACHE_ENV] = folder
        config.stash[_CACHE_KEY] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_CACHE_KEY, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(_CACHE_ENV, None)


# The longest modules first (make test spreads whole modules over two workers): a long
# one scheduled last keeps one worker busy while the other has nothing left to do.
LONGEST_FIRST = (
    "test_architectures.py",
    "test_signals.py",
    "test_tensorflow_path.py",
    "test_fused.py",
    "test_tune_workers.py",
    "test_tune.py",
    "test_members.py",
    "test_baselines.py",
    "test_panel_lifecycle.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: in-file order kept


def shared_temp(factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run that every xdist worker sees (the run's own, above each
    worker's): for what is built once and read by all, such as JAX's compile cache."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def write_tiny_csv(folder: Path) -> Path:
    """60 monthly rows of a noisy, trending seasonal series."""
    rng = np.random.default_rng(0)
    t = np.arange(60)
    y = 100 + 2 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 60)
    lines = ["month,sales"] + [f"2020-{i:03d},{v:.3f}" for i, v in enumerate(y)]
    path = folder / "tiny.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_spec(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_raw_spec(folder: Path, csv_path: Path) -> dict:
    """A spec that fits 2 repeats of a small LSTM for 3 epochs, as plain data."""
    return {
        "name": "tiny",
        "runs_dir": str(folder / "runs"),
        "data": {
            "path": str(csv_path),
            "time": "month",
            "target": "sales",
            "transforms": ["difference"],
            "scale": {"kind": "minmax", "range": [-1, 1]},
            "window": {"lookback": 3, "horizon": 1},
            "split": {"test": 12},
        },
        "model": {"arch": "vanilla", "units": 4},
        "train": {"epochs": 3, "batch_size": 8},
        "evaluate": {"repeats": 2, "metrics": ["rmse", "mae"]},
    }


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    return write_tiny_csv(tmp_path)


@pytest.fixture
def tiny_spec(tmp_path: Path, tiny_csv: Path) -> Path:
    """A spec that fits 2 repeats of a small LSTM for 3 epochs."""
    return write_spec(tmp_path / "tiny.yaml", tiny_raw_spec(tmp_path, tiny_csv))
