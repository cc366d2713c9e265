"""Time lstmctl's training alone (imports and data preparation excluded).

Usage: python lstmctl_train.py SPEC [key=value ...]; prints seconds.
"""

from __future__ import annotations

import sys
import time

from lstmctl.data.prepare import prepare
from lstmctl.spec import load_spec
from lstmctl.training.backend import use_backend
from lstmctl.training.fit import fit_repeats


def main() -> None:
    spec = load_spec(sys.argv[1], sys.argv[2:])
    use_backend(spec.backend)
    data = prepare(spec)
    start = time.perf_counter()
    results = fit_repeats(spec, data)
    assert len(results) == spec.evaluate.repeats
    print(f"{time.perf_counter() - start:.3f}")


if __name__ == "__main__":
    main()
