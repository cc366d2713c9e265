"""Run history: find, load and resolve the run directories under a runs folder.

Everything is read back from the files a run wrote (``results.json``,
``spec.yaml``; see :mod:`lstmctl.history.record`), so history survives upgrades
and works on folders copied from another machine. Comparing two runs is
:mod:`lstmctl.history.compare`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from lstmctl.errors import DataError, UsageError
from lstmctl.history.record import RunRecord
from lstmctl.rundir import run_started

log = logging.getLogger("lstmctl")

# create_run_dir names folders NAME-YYYYmmdd-HHMMSS, with -N when two start in one second.


def load_run(path: str | Path) -> RunRecord:
    """Read one run directory (UsageError when it is none, DataError when it is damaged)."""
    path = Path(path)
    results_path = path / "results.json"
    if not results_path.is_file():
        raise UsageError(
            "expected a run directory with results.json, found "
            + ("a folder without one" if path.is_dir() else "nothing there"),
            where=str(path),
        )
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(
            f"expected results JSON, found unreadable content ({e})", where=str(results_path)
        ) from None
    if not isinstance(results, dict):
        raise DataError("expected a JSON object of results", where=str(results_path))
    _check_shape(results, str(results_path))
    spec: dict[str, Any] = {}
    try:
        loaded = yaml.safe_load((path / "spec.yaml").read_text(encoding="utf-8"))
        spec = loaded if isinstance(loaded, dict) else {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        pass  # the scores are what history needs; a missing spec only loses the arch fallback
    return RunRecord(path=path, results=results, spec=spec, started=run_started(path))


# The keys of results.json whose type the views rely on (a hand-edited or foreign
# file must fail here, naming the key, not deep inside a table).
_SHAPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "arch": (str,),
    "per_repeat": (list,),
    "failed": (list,),
    "metrics": (dict,),
    "baselines": (dict,),
    "skill": (dict,),
    "targets": (list,),
    "repeats": (int,),
    "repeats_requested": (int,),
    "test_windows": (int,),
    "complete": (bool,),
    "seconds": (int, float),
    "trainer": (str,),
    # A tune study's results.json (lstmctl.tuning.results).
    "study": (str,),
    "trials": (list,),
    "best": (dict,),
    "objective": (dict,),
}


def _check_shape(results: dict[str, Any], where: str) -> None:
    for key, kinds in _SHAPES.items():
        value = results.get(key)
        if value is not None and not isinstance(value, kinds):
            raise DataError(
                f"expected {key} to be {' or '.join(k.__name__ for k in kinds)}, found "
                f"{type(value).__name__} {json.dumps(value)[:40]}",
                where=where,
            )
    for key in ("per_repeat", "failed", "trials"):
        bad = [type(v).__name__ for v in results.get(key) or [] if not isinstance(v, dict)]
        if bad:
            raise DataError(f"expected {key} to hold objects, found a {bad[0]}", where=where)
    for key in ("metrics", "baselines", "skill"):
        bad = [k for k, v in (results.get(key) or {}).items() if not isinstance(v, dict)]
        if bad:
            raise DataError(f"expected {key}.{bad[0]} to be an object", where=where)


def find_runs(
    root: str | Path = "runs",
    name: str | None = None,
    on_damaged: Callable[[DataError], None] | None = None,
) -> list[RunRecord]:
    """Every readable run under ``root``, newest first; ``name`` keeps one spec's runs.

    A damaged run is skipped and handed to ``on_damaged`` (default: a logged warning).
    """
    root = Path(root)
    if not root.exists():
        return []
    if not root.is_dir():
        raise UsageError("expected a folder of run directories, found a file", where=str(root))
    records = []
    for d in root.iterdir():
        if not (d / "results.json").is_file():
            continue  # not a run, or one whose first results are not written yet
        try:
            rec = load_run(d)
        except DataError as e:
            # One damaged run does not hide the others; it is named, not skipped silently.
            if on_damaged is not None:
                on_damaged(e)
            else:
                log.warning("skipped a damaged run: %s", e)
            continue
        if name is None or rec.name == name:
            records.append(rec)
    records.sort(key=lambda r: (r.started or datetime.min, r.path.name), reverse=True)
    return records


def resolve_run(ref: str | Path, root: str | Path = "runs") -> Path:
    """A run directory from a path, a folder name under ``root``, a spec name (its latest
    run) or a unique prefix of a folder name."""
    p = Path(ref)
    if (p / "results.json").is_file():
        return p
    root = Path(root)
    if (root / p / "results.json").is_file():
        return root / p
    runs = find_runs(root)
    text = str(ref)
    by_name = [r for r in runs if r.name == text]
    if by_name:
        return by_name[0].path  # newest first
    by_prefix = [r for r in runs if r.path.name.startswith(text)]
    if len(by_prefix) == 1:
        return by_prefix[0].path
    if len(by_prefix) > 1:
        names = ", ".join(r.path.name for r in by_prefix[:5])
        raise UsageError(f"expected one run, found {len(by_prefix)} matching: {names}", text)
    known = ", ".join(dict.fromkeys(r.name for r in runs)) or "(none)"
    raise UsageError(
        f"expected a run directory, a run folder name or a spec name under {root}, "
        f"found no match; spec names there: {known}",
        where=text,
    )
