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
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmctl import __version__
from lstmctl.errors import ModelDirError, undecodable
from lstmctl.modeldir.keras_archive import check_keras_archive

# Bumped on any change an older lstmctl could not read correctly.
FORMAT_VERSION = 1
FORMAT_NAME = "lstmctl-model"
MANIFEST = "manifest.json"
REQUIRED = ("spec.yaml", "model.keras", "preprocess.json")

Writer = Callable[[Path], None]


# --------------------------------------------------------------------------- saving


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_name(name: str, where: str = MANIFEST) -> None:
    # Manifest entries are plain file names: nothing outside the directory is read.
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise ModelDirError(f"expected a plain file name, found {name!r}", where=where)


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
            f"{format_of(manifest)!r}",
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
        check_name(name, str(mpath))
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


def format_of(manifest: Any) -> Any:
    return manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else ""
