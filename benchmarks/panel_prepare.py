"""Prepare a synthetic panel (`make bench`): seconds, and the windows' memory beside the table's.

Usage: panel_prepare.py SERIES STEPS LOOKBACK. Prints one JSON line: ``windows_mb``
is what the prepared windows hold (a panel's are by index: the rows of all
series once, plus a start index per window), ``copies_mb`` what they would
take as materialized copies, ``values_mb`` the table's target values,
``frame_mb`` the CSV read back as a pandas frame (``memory_usage(deep=True)``:
the series ids and month strings are most of it), ``rss_base_mb`` the peak
RSS before preparing (interpreter, imports, the table; a tiny panel is prepared
first so that the modules ``prepare`` imports lazily do not count) and ``rss_mb`` after.

:func:`write_panel` and :func:`panel_spec` are shared with ``panel_train.py``.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

MB = 2**20


def peak_rss_mb() -> float:
    """This process's peak RSS so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_table(n_series: int, steps: int, seed: int = 0) -> pd.DataFrame:
    """A long table ``series, month, y``: monthly seasonality around levels 1 to 10,000."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    months = pd.period_range("2000-01", periods=steps, freq="M").astype(str)
    frames = []
    for k in range(n_series):
        level = 10.0 ** rng.uniform(0, 4)
        y = level * (1 + 0.1 * np.sin(2 * np.pi * t / 12) + 0.02 * rng.standard_normal(steps))
        frames.append(pd.DataFrame({"series": f"s{k:04d}", "month": months, "y": y}))
    return pd.concat(frames, ignore_index=True)


def panel_spec(path: Path, lookback: int, series: bool = True, **extra: Any) -> dict[str, Any]:
    """The spec of the synthetic panel; ``series=False`` reads one series as a plain table.

    ``calendar`` needs a panel, so a single series gets the month's sin/cos as
    columns of its table (see :func:`single_series`) and reads them as features.
    """
    data: dict[str, Any] = {
        "path": str(path),
        "time": "month",
        "target": "y",
        "window": {"lookback": lookback, "horizon": 1},
        "split": {"test": 12},
    }
    if series:
        data = {"series": "series", **data, "calendar": ["month"]}
    else:
        data["features"] = ["month_sin", "month_cos"]
    return {"data": data, "model": {"units": 8}, **extra}


def single_series(rows: pd.DataFrame) -> pd.DataFrame:
    """One series of the panel as a plain table, the calendar's sin/cos as columns."""
    angle = 2 * np.pi * (pd.PeriodIndex(rows["month"], freq="M").month - 1) / 12
    return rows.drop(columns="series").assign(month_sin=np.sin(angle), month_cos=np.cos(angle))


def write_panel(
    tmp: Path, n_series: int, steps: int, lookback: int, **extra: Any
) -> tuple[pd.DataFrame, Path]:
    """Write the table as CSV and its spec beside it; return the table and the spec's path."""
    table = synthetic_table(n_series, steps)
    path = tmp / "panel.csv"
    table.to_csv(path, index=False)
    spec_path = tmp / "panel.yaml"
    spec_path.write_text(yaml.safe_dump(panel_spec(path, lookback, **extra)))
    return table, spec_path


def main() -> None:
    n_series, steps, lookback = (int(a) for a in sys.argv[1:4])
    from lstmctl.data.prepare import prepare
    from lstmctl.data.window_index import IndexedWindows, held_nbytes
    from lstmctl.spec import load_spec

    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm-up"
        warm.mkdir()
        prepare(load_spec(write_panel(warm, 2, lookback + 40, lookback)[1]))
        table, spec_path = write_panel(Path(tmp), n_series, steps, lookback)
        frame_mb = pd.read_csv(Path(tmp) / "panel.csv").memory_usage(deep=True).sum() / MB
        spec = load_spec(spec_path)
        rss_base = peak_rss_mb()
        start = time.perf_counter()
        data = prepare(spec)
        seconds = time.perf_counter() - start
        rss = peak_rss_mb()
    parts = (data.X_train, data.y_train, data.X_val, data.y_val, data.X_test, data.y_test)
    windows = held_nbytes(parts)
    copies = sum(
        a.materialized_nbytes if isinstance(a, IndexedWindows) else a.nbytes for a in parts
    )
    values = table["y"].to_numpy().nbytes
    print(
        json.dumps(
            {
                "seconds": seconds,
                "windows_mb": windows / MB,
                "copies_mb": copies / MB,
                "values_mb": values / MB,
                "frame_mb": frame_mb,
                "ratio": windows / values,
                "rss_base_mb": rss_base,
                "rss_mb": rss,
            }
        )
    )


if __name__ == "__main__":
    main()
