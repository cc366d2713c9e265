"""The run directory: ``runs/NAME-TIMESTAMP/`` with the spec, scores and histories.

Every file is written atomically (a temporary file in the same folder,
fsync, rename), so an interrupted run never leaves a half-written file, and
what finished is kept.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from lstmctl.errors import LstmctlError, RunError, UsageError


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


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as CSV text (the header from the first row)."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
