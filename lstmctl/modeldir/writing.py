"""Writing a model directory: where it may go, and putting it there atomically.

A target is checked before any training (:func:`check_target`: a new name, an
empty folder, or, with ``--force``, an lstmctl model directory — never
anything else). The files are written under a temporary name beside it,
every one fsynced with the manifest listing their sha256, and renamed into
place only when complete (:func:`write_model_dir`), so a crash never leaves
half a model. The format itself and reading it: :mod:`lstmctl.modeldir.format`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lstmctl import __version__
from lstmctl.errors import LstmctlError, ModelDirError, UsageError
from lstmctl.modeldir.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    REQUIRED,
    Writer,
    check_name,
    format_of,
    sha256_file,
)
from lstmctl.rundir import ensure_writable_folder
from lstmctl.targets import found, umask

__all__ = ["check_target", "header", "save_keras", "write_model_dir"]


def check_target(out: str | Path, force: bool = False) -> Path:
    """The target directory, checked before any training.

    A new name or an empty folder is used as it is; an existing model
    directory is replaced only with ``force``; anything else (a file, a
    folder holding files that are not a model's) is never replaced,
    ``force`` or not: a :class:`UsageError` naming it.
    """
    out = Path(out)
    refusal = _refusal(out, force)
    if refusal is not None:
        raise refusal
    ensure_writable_folder(out.parent, ModelDirError)
    return out


def _refusal(out: Path, force: bool) -> LstmctlError | None:
    """Why a model may not be written at ``out`` (None: it may)."""
    expected = "expected a new name, an empty folder or a model directory"
    if out.is_symlink():
        return UsageError(
            f"{expected}, found a symbolic link; give the folder it points to",
            where=str(out),
        )
    if not out.exists():
        return None
    if not out.is_dir():
        return UsageError(
            f"{expected}, found {found(out)}; --force replaces only model directories",
            where=str(out),
        )
    foreign = _foreign_contents(out)
    if foreign is not None:
        return UsageError(
            f"{expected} (with lstmctl's {MANIFEST}), found {foreign}; "
            "--force replaces only model directories",
            where=str(out),
        )
    if not force and any(out.iterdir()):
        return ModelDirError(
            "expected a new directory, found an existing model (use --force to replace it)",
            where=str(out),
        )
    return None


def _foreign_contents(folder: Path) -> str | None:
    """What in ``folder`` is not part of an lstmctl model directory, in words (None: nothing)."""
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError as e:
        return f"a folder that cannot be listed ({e.strerror})"
    if not names:
        return None
    mpath = folder / MANIFEST
    if MANIFEST not in names:
        return f"a folder without {MANIFEST} holding {_some(names)}"
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return f"a {MANIFEST} that is not lstmctl's (not JSON)"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        return f"a {MANIFEST} that is not lstmctl's (format {format_of(manifest)!r})"
    listed = manifest.get("files")
    listed = listed if isinstance(listed, dict) else {}
    # Files a user put into a model directory are theirs: replacing it would lose them.
    extra = [n for n in names if n != MANIFEST and n not in listed]
    if extra:
        return f"a model directory holding files its manifest does not list: {_some(extra)}"
    return None


def _some(names: list[str], n: int = 5) -> str:
    shown = ", ".join(names[:n])
    return shown if len(names) <= n else f"{shown} and {len(names) - n} more"


def write_model_dir(
    out: str | Path,
    writers: Mapping[str, Writer],
    manifest: dict[str, Any],
    force: bool = False,
) -> Path:
    """Write a model directory atomically: every file, then the manifest, then rename.

    ``writers`` maps file names to functions that write the file at the path
    they are given (in a temporary directory); a writer may decide not to
    write its file (an optional ONNX export that failed). ``manifest`` gets
    the format, versions, creation time and the sha256 of every file written.
    If anything fails, the temporary directory is removed and the target is
    as it was.
    """
    out = check_target(out, force)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        files: dict[str, dict[str, Any]] = {}
        for name, write in writers.items():
            check_name(name)
            path = tmp / name
            write(path)
            if not path.exists():
                continue
            _fsync(path)
            files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        missing = [n for n in REQUIRED if n not in files]
        if missing:
            raise ModelDirError(f"internal: required files not written: {missing}", where=str(out))
        full = {**header(), **manifest, "files": files}
        text = json.dumps(full, indent=2, allow_nan=False) + "\n"
        (tmp / MANIFEST).write_text(text, encoding="utf-8")
        _fsync(tmp / MANIFEST)
        _fsync(tmp)
        _swap_into_place(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def header() -> dict[str, Any]:
    """Format and versions: what a later lstmctl checks before reading a directory."""
    import platform

    versions = {"lstmctl": __version__, "python": platform.python_version()}
    for mod in ("keras", "numpy"):
        if mod in sys.modules:
            versions[mod] = str(getattr(sys.modules[mod], "__version__", "?"))
    if "keras" in sys.modules:
        versions["backend"] = sys.modules["keras"].backend.backend()
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": versions,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _swap_into_place(tmp: Path, out: Path, force: bool) -> None:
    from lstmctl.signals import check, deferred

    # The point of no return: a signal that came while the files were written,
    # even one whose exception was dropped in a callback, stops here and the
    # target stays as it was.
    check()
    # A signal between the two renames would leave the old model under a
    # temporary name: it waits until the swap is done.
    with deferred():
        _swap(tmp, out, force)
    _fsync(out.parent)


def _swap(tmp: Path, out: Path, force: bool) -> None:
    if out.exists() or out.is_symlink():
        # --force: the old directory is moved aside first, then removed, so the
        # target name always holds a complete model (old, then new).
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.rmdir(old)
        os.rename(out, old)
        # What was moved aside is checked again, not only what check_target saw:
        # nothing but a model directory (or an empty folder) is ever removed.
        refusal = _refusal(old, force)
        if refusal is not None:
            os.rename(old, out)
            refusal.where = str(out)
            raise refusal
        try:
            # The folder keeps its mode (a shared saved/NAME stays shared).
            os.chmod(tmp, stat.S_IMODE(old.stat().st_mode))
            os.rename(tmp, out)
        except BaseException:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        # mkdtemp made it private (0700); a new folder gets the mode mkdir would give it.
        os.chmod(tmp, 0o777 & ~umask())
        try:
            os.rename(tmp, out)
        except OSError as e:  # another process created it meanwhile
            raise ModelDirError(
                f"cannot move the new model into place: {e.strerror}", where=str(out)
            ) from None


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_keras(model: Any, path: Path) -> None:
    """``model.save(path)``, without Keras importing TensorFlow to do it.

    Keras' serializer asks whether TensorFlow is importable (to recognise TF
    shapes and dtypes), which imports it: about 5 s, although a model built on
    JAX holds no TensorFlow object. On JAX the check is answered "no" for the
    duration of the save; if those Keras internals move, Keras does as it does.
    """
    lazy = None
    if "tensorflow" not in sys.modules:
        try:
            from keras.src.saving import serialization_lib

            lazy = serialization_lib.tf
            if lazy._available is not None:
                lazy = None
        except (ImportError, AttributeError):
            lazy = None
    if lazy is not None:
        lazy._available = False
    try:
        model.save(path)
    finally:
        if lazy is not None:
            lazy._available = None
