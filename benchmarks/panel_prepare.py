"""Prepare a synthetic panel (`make bench`): seconds, and the windows' memory beside the table's.

Usage: panel_prepare.py SERIES STEPS LOOKBACK. Prints one JSON line: ``windows_mb``
is what the prepared windows hold (a panel's are by index: the rows of all
series once, plus a start index per window), ``copies_mb`` what they would
take as materialized copies, ``values_mb`` the table's target values.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def main() -> None:
    n_series, steps, lookback = (int(a) for a in sys.argv[1:4])
    rng = np.random.default_rng(0)
    t = np.arange(steps)
    frames = []
    for k in range(n_series):
        level = 10.0 ** rng.uniform(0, 4)
        y = level * (1 + 0.1 * np.sin(2 * np.pi * t / 12) + 0.02 * rng.standard_normal(steps))
        frames.append(
            pd.DataFrame(
                {
                    "series": f"s{k:04d}",
                    "month": pd.period_range("2000-01", periods=steps, freq="M").astype(str),
                    "y": y,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "panel.csv"
        table.to_csv(path, index=False)
        spec_path = Path(tmp) / "panel.yaml"
        spec_path.write_text(
            yaml.safe_dump(
                {
                    "data": {
                        "path": str(path),
                        "series": "series",
                        "time": "month",
                        "target": "y",
                        "calendar": ["month"],
                        "window": {"lookback": lookback, "horizon": 1},
                        "split": {"test": 12},
                    },
                    "model": {"units": 8},
                }
            )
        )
        from lstmctl.data.prepare import prepare
        from lstmctl.data.window_index import IndexedWindows, held_nbytes
        from lstmctl.spec import load_spec

        spec = load_spec(spec_path)
        start = time.perf_counter()
        data = prepare(spec)
        seconds = time.perf_counter() - start
    parts = (data.X_train, data.y_train, data.X_val, data.y_val, data.X_test, data.y_test)
    windows = held_nbytes(parts)
    copies = sum(
        a.materialized_nbytes if isinstance(a, IndexedWindows) else a.nbytes for a in parts
    )
    values = table["y"].to_numpy().nbytes
    mb = 2**20
    print(
        json.dumps(
            {
                "seconds": seconds,
                "windows_mb": windows / mb,
                "copies_mb": copies / mb,
                "values_mb": values / mb,
                "ratio": windows / values,
            }
        )
    )


if __name__ == "__main__":
    main()
