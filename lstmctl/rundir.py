"""The run directory: ``runs/NAME-TIMESTAMP/`` with the spec, scores and histories.

Every file is written atomically (a temporary file in the same folder,
fsync, rename), so an interrupted run never leaves a half-written file, and
what finished is kept.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from lstmctl.errors import LstmctlError, RunError, UsageError
from lstmctl.targets import found


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.

    A filesystem fault (disk full, the folder removed) is a :class:`RunError`
    naming the file; the previous version of the file, if any, is left whole.
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _cannot_write(path, e) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            # mkstemp makes the file private (0600); results are meant to be shared.
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _cannot_write(path, e) from None
        raise


def _cannot_write(path: Path, e: OSError) -> RunError:
    kept = "the previous version is kept" if path.exists() else "nothing was written"
    return RunError(f"cannot write this file: {e.strerror or e} ({kept})", where=str(path))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"


def ensure_writable_folder(
    folder: Path, error: type[LstmctlError] = UsageError, what: str = "folder"
) -> None:
    """Create ``folder`` if needed and check it is writable, before any work is spent."""
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
        raise error(f"expected a {what}, found {found(folder)}", where=str(folder))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise error(f"cannot create the {what}: {e.strerror}", where=str(folder)) from None
    # Writing is the only test that holds for root and for read-only mounts,
    # where os.access says yes (or /proc, which takes no files at all).
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".lstmctl-write-test-")
    except OSError as e:
        raise error(f"the {what} is not writable ({e.strerror})", where=str(folder)) from None
    os.close(fd)
    os.unlink(probe)


def create_run_dir(root: str | Path, name: str) -> Path:
    """A new, unique ``root/NAME-YYYYmmdd-HHMMSS[-N]`` (safe against concurrent runs)."""
    root = Path(root)
    ensure_writable_folder(root, what="runs folder")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{_slug(name)}-{stamp}"
    for n in range(1000):
        path = root / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()  # atomic: exactly one process creates a given name
        except FileExistsError:
            continue
        except OSError as e:
            raise UsageError(f"cannot create a run folder: {e.strerror}", where=str(root)) from None
        (path / "history").mkdir()
        return path
    raise UsageError("could not find a free run folder name", where=str(root))


# What a run writes before its first repeat: the spec and an empty record of it.
BEFORE_FIRST_REPEAT = ("spec.yaml", "results.json", "repeats.csv")


def discard_run_dir(path: Path, written: tuple[str, ...] = BEFORE_FIRST_REPEAT) -> bool:
    """Remove a run folder a run that failed before any result left behind; True if removed.

    Only the files named in ``written`` and an empty ``history/`` are removed,
    file by file: a folder holding anything else (a repeat's history, a
    variant's run, a file of the user's) is left as it is.
    """
    try:
        entries = list(path.iterdir())
        history = path / "history"
        if any(e.name not in written and e != history for e in entries):
            return False
        if history.exists() and (not history.is_dir() or any(history.iterdir())):
            return False
        for e in entries:
            if e == history:
                e.rmdir()
            else:
                e.unlink()
        path.rmdir()
    except OSError:
        return False  # kept: an incomplete folder is better than an error hiding the first
    return True


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json_text(data) + "\n")


NON_FINITE_NOTE = (
    "JSON has no NaN or Infinity: these values were not finite (a diverged repeat, "
    "a statistic of no values) and are written as null"
)


def json_text(data: Any) -> str:
    """``data`` as strict JSON (what any parser reads): NaN and infinities become null.

    An object that held any gets a ``non_finite`` entry saying so and where: the
    dotted keys (a list of numbers is named once).
    """
    where: list[str] = []
    clean = _finite(data, "", where)
    if where and isinstance(clean, dict) and "non_finite" not in clean:
        clean["non_finite"] = {"note": NON_FINITE_NOTE, "keys": list(dict.fromkeys(where))}
    return json.dumps(clean, indent=2, allow_nan=False)


def _finite(x: Any, path: str, where: list[str]) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        where.append(path or "(top)")
        return None
    if isinstance(x, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), where) for k, v in x.items()}
    if isinstance(x, list | tuple):
        # A number in a list is reported by the list's key; an object by its index.
        return [
            _finite(v, f"{path}[{i}]" if isinstance(v, dict | list | tuple) else path, where)
            for i, v in enumerate(x)
        ]
    return x


def csv_text(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Rows of dicts as CSV text (the header: ``columns``, else the first row's keys).

    No rows and no ``columns``: no text at all; a missing value is an empty field.
    """
    if not rows and columns is None:
        return ""
    buf = io.StringIO()
    fields = columns if columns is not None else list(rows[0])
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


_STAMP = re.compile(r"-(\d{8}-\d{6})(?:-\d+)?$")


def run_started(path: Path) -> datetime | None:
    """When a run started: the stamp in its folder name, else its spec file's time."""
    path = Path(path)
    m = _STAMP.search(path.name)
    if m:
        try:
            return datetime.strptime(m.group(1), "%Y%m%d-%H%M%S")
        except ValueError:
            pass
    for name in ("spec.yaml", "results.json"):
        if (path / name).exists():
            return datetime.fromtimestamp((path / name).stat().st_mtime)
    return None
