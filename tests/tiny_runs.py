"""Tiny specs for module-scoped fixtures (conftest's fixtures are per test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import write_spec


def tiny_spec_file(folder: Path) -> Path:
    """The conftest tiny spec (60 noisy monthly rows, 3 epochs), for module-scoped runs."""
    rng = np.random.default_rng(0)
    t = np.arange(60)
    y = 100 + 2 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 60)
    csv_path = folder / "tiny.csv"
    rows = [f"2020-{i:03d},{v:.3f}" for i, v in enumerate(y)]
    csv_path.write_text("month,sales\n" + "\n".join(rows) + "\n")
    return write_spec(
        folder / "tiny.yaml",
        {
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
        },
    )
