"""Model directories: written atomically, verified before anything in them is used.

A model directory (``saved/NAME/``) holds::

    manifest.json     format version, versions, shapes, creation time, sha256 of every file
    spec.yaml         the resolved spec the model was trained from
    model.keras       the Keras model (architecture + weights; no optimizer state)
    preprocess.json   fitted scalers, transforms, categories, the last observations
    data.csv          the rows it was trained on (what `update` adds new rows to)
    model.onnx        optional: the same network for onnxruntime (the fast predict path)

and, for an ensemble of N members (``finalize --members N``), the other
members' ``member-NN.keras`` / ``member-NN.onnx``, ``members.json`` and
``intervals.json`` (see :mod:`lstmctl.modeldir.members`).

It is written under a temporary name beside the target, every file fsynced,
and renamed into place only when complete, so a crash never leaves half a
model. Opening one checks the manifest's format version and every file's
sha256 before a byte of it is used; ``model.keras`` is inspected
(lstmctl.modeldir.keras_archive: plain entries, Keras and lstmctl classes only) and
then loaded in Keras' safe mode, so no code from a model directory is ever
executed.

This module imports neither Keras nor onnxruntime at import time: ``predict``
reads model directories without TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmctl import __version__
from lstmctl.errors import LstmctlError, ModelDirError, UsageError, undecodable
from lstmctl.modeldir.keras_archive import check_keras_archive
from lstmctl.rundir import ensure_writable_folder
from lstmctl.targets import found, umask

# Bumped on any change an older lstmctl could not read correctly.
FORMAT_VERSION = 1
FORMAT_NAME = "lstmctl-model"
MANIFEST = "manifest.json"
REQUIRED = ("spec.yaml", "model.keras", "preprocess.json")

Writer = Callable[[Path], None]


# --------------------------------------------------------------------------- saving


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
        return f"a {MANIFEST} that is not lstmctl's (format {_format_of(manifest)!r})"
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
            _check_name(name)
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


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_name(name: str, where: str = MANIFEST) -> None:
    # Manifest entries are plain file names: nothing outside the directory is read.
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise ModelDirError(f"expected a plain file name, found {name!r}", where=where)


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


# --------------------------------------------------------------------------- loading


@dataclass
class ModelDir:
    """A verified model directory: every listed file matched its sha256 when opened."""

    path: Path
    manifest: dict[str, Any]
    _bytes: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def files(self) -> list[str]:
        return list(self.manifest["files"])

    def has(self, name: str) -> bool:
        return name in self._bytes

    def read_bytes(self, name: str) -> bytes:
        """A file's verified contents (read once, when the directory was opened)."""
        if name not in self._bytes:
            raise ModelDirError(f"expected a file {name}, found none", where=str(self.path))
        return self._bytes[name]

    def read_text(self, name: str) -> str:
        """A verified file as UTF-8 text."""
        try:
            return self.read_bytes(name).decode("utf-8")
        except UnicodeDecodeError as e:
            line, found = undecodable(e)
            raise ModelDirError(
                f"expected UTF-8 text, {found} on line {line}", where=str(self.path / name)
            ) from None

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.read_text(name))
        except json.JSONDecodeError as e:
            raise ModelDirError(
                f"expected JSON, found unreadable text ({e})", where=str(self.path / name)
            ) from None

    @property
    def preprocess(self) -> dict[str, Any]:
        data = self.read_json("preprocess.json")
        if not isinstance(data, dict):
            raise ModelDirError("expected a JSON object", where=str(self.path / "preprocess.json"))
        return data

    def spec(self) -> Any:
        """The saved spec, validated (a :class:`lstmctl.spec.Spec`)."""
        from lstmctl.spec import parse_yaml, validate_spec

        where = str(self.path / "spec.yaml")
        raw = parse_yaml(self.read_text("spec.yaml"), where)
        return validate_spec(raw, source=where)

    def load_keras(self, name: str = "model.keras") -> Any:
        """A Keras model (``model.keras``, or an ensemble member's), loaded in safe mode
        from the verified bytes."""
        import keras

        from lstmctl.models.layers import custom_objects

        data = self.read_bytes(name)
        if name != "model.keras":  # model.keras was inspected when the directory was opened
            check_keras_archive(data, str(self.path / name))
        # Loading from a private copy of the bytes that were hashed: the file
        # cannot be swapped between the check and the load.
        with tempfile.TemporaryDirectory(prefix="lstmctl-model-") as tmp:
            path = Path(tmp) / "model.keras"
            path.write_bytes(data)
            try:
                # Only lstmctl's own registered layers are allowed besides Keras'.
                return keras.saving.load_model(
                    path, compile=False, safe_mode=True, custom_objects=custom_objects()
                )
            except Exception as e:  # Keras raises many kinds for a bad archive
                raise ModelDirError(
                    f"expected a Keras model archive, found one Keras cannot load "
                    f"({type(e).__name__}: {first_line(e)})",
                    where=str(self.path / name),
                ) from None


def open_model_dir(path: str | Path) -> ModelDir:
    """Open a model directory, refusing a foreign, newer, incomplete or modified one."""
    path = Path(path)
    if not path.exists():
        raise ModelDirError("model directory not found", where=str(path))
    if not path.is_dir():
        raise ModelDirError("expected a model directory, found a file", where=str(path))
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise ModelDirError(
            f"expected {MANIFEST} (written by `lstmctl finalize`), found none; "
            "not an lstmctl model directory",
            where=str(path),
        )
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelDirError(
            f"expected JSON, found unreadable text ({e})", where=str(mpath)
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ModelDirError(
            f"expected an lstmctl model manifest (format {FORMAT_NAME!r}), found "
            f"{_format_of(manifest)!r}",
            where=str(mpath),
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelDirError(
            f"expected an integer format_version, found {version!r}", where=str(mpath)
        )
    if version > FORMAT_VERSION:
        wrote = manifest.get("versions", {}).get("lstmctl", "?")
        raise ModelDirError(
            f"written by lstmctl {wrote} in model format {version}; this lstmctl "
            f"({__version__}) reads format {FORMAT_VERSION} and older: upgrade lstmctl",
            where=str(mpath),
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ModelDirError("expected a files table, found none", where=str(mpath))
    for name in REQUIRED:
        if name not in files:
            raise ModelDirError(f"expected {name} in the files table, found none", str(mpath))
    contents: dict[str, bytes] = {}
    for name, entry in files.items():
        _check_name(name, str(mpath))
        fpath = path / name
        if not fpath.is_file():
            raise ModelDirError(
                "expected this file (listed in the manifest), found none: the directory is "
                "incomplete",
                where=str(fpath),
            )
        data = fpath.read_bytes()
        want = entry.get("sha256") if isinstance(entry, dict) else None
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise ModelDirError(
                f"modified after it was saved: sha256 {got[:12]}..., the manifest says "
                f"{str(want)[:12]}...; refusing to use it (re-run `lstmctl finalize`)",
                where=str(fpath),
            )
        contents[name] = data
    # Matching hashes only say the files are as their author left them, not that
    # the author is to be trusted: the archive is inspected before Keras sees it.
    check_keras_archive(contents["model.keras"], str(path / "model.keras"))
    return ModelDir(path=path, manifest=manifest, _bytes=contents)


def _format_of(manifest: Any) -> Any:
    return manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else ""
