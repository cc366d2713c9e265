"""Shared fixtures: tiny data and specs, so every test runs in seconds."""

from __future__ import annotations

import os
from pathlib import Path

# The test process trains on JAX (backend: auto); TensorFlow runs are checked
# in subprocesses, because Keras picks its backend once per process.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


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
