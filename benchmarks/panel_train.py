"""Train on the synthetic panel (`make bench`): preparation and training timed apart.

Usage:
  panel_train.py panel SERIES STEPS LOOKBACK UNITS REPEATS EPOCHS
  panel_train.py single K STEPS LOOKBACK UNITS REPEATS EPOCHS

``panel`` prepares the long table of SERIES series and fits one global model
with ``fit_repeats`` (all repeats fused). ``single`` fits the panel's first K
series one by one, each as its own single-series spec (no ``series`` column),
with the same model, epochs and repeats, in one process: what a user without
panels would script. Prints one JSON line; ``compile_s`` is what the fused
trainer logs for compiling and running the first epoch (the rest is epochs).
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from panel_prepare import panel_spec, peak_rss_mb, single_series, synthetic_table, write_panel


class _FirstEpoch(logging.Handler):
    """Keeps the seconds of the trainer's 'compiled and ran the first epoch' lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("compiled and ran the first epoch"):
            self.seconds.append(float(record.args[0]))  # type: ignore[index]


def _fit(spec_path: Path, first: _FirstEpoch) -> dict[str, Any]:
    from lstmctl.data.prepare import prepare
    from lstmctl.spec import load_spec
    from lstmctl.training.backend import use_backend
    from lstmctl.training.fit import fit_repeats

    spec = load_spec(spec_path)
    use_backend(spec.backend)
    rss0 = peak_rss_mb()
    start = time.perf_counter()
    data = prepare(spec)
    prep_s = time.perf_counter() - start
    rss_prep = peak_rss_mb()
    n_logged = len(first.seconds)
    start = time.perf_counter()
    results = fit_repeats(spec, data)
    train_s = time.perf_counter() - start
    assert len(results) == spec.evaluate.repeats
    failed = [r.error for r in results if getattr(r, "error", None)]
    return {
        "prepare_s": prep_s,
        "train_s": train_s,
        "compile_s": sum(first.seconds[n_logged:]),
        "rss_start_mb": rss0,
        "rss_prepare_mb": rss_prep,
        "rss_train_mb": peak_rss_mb(),
        "windows": len(data.y_train),
        "failed": failed,
    }


def main() -> None:
    mode = sys.argv[1]
    n, steps, lookback, units, repeats, epochs = (int(a) for a in sys.argv[2:8])
    first = _FirstEpoch()
    log = logging.getLogger("lstmctl")
    log.addHandler(first)
    log.setLevel(logging.INFO)
    extra = {
        "model": {"units": units},
        "train": {"epochs": epochs},
        "evaluate": {"repeats": repeats},
    }
    with tempfile.TemporaryDirectory() as tmp:
        if mode == "panel":
            _, spec_path = write_panel(Path(tmp), n, steps, lookback, **extra)
            print(json.dumps(_fit(spec_path, first)))
            return
        table = synthetic_table(n, steps)
        runs = []
        for k, (_, rows) in enumerate(table.groupby("series", sort=True)):
            path = Path(tmp) / f"s{k}.csv"
            single_series(rows).to_csv(path, index=False)
            spec_path = Path(tmp) / f"s{k}.yaml"
            spec_path.write_text(yaml.safe_dump(panel_spec(path, lookback, series=False, **extra)))
            runs.append(_fit(spec_path, first))
        print(json.dumps({"runs": runs}))


if __name__ == "__main__":
    main()
