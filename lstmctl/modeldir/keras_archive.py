"""Inspect a ``.keras`` archive from someone else before Keras sees a byte of it.

A ``.keras`` file is a zip of ``config.json`` (the architecture as nested
``{"module", "class_name", "config"}`` objects), ``metadata.json`` and
``model.weights.h5``. Keras' safe mode refuses ``Lambda`` layers when it
deserializes them; this check refuses more, earlier, and without importing
Keras:

- the archive holds exactly those plain entries (no ``../``, absolute paths,
  symlinks, directories or extra files that an extraction could write
  elsewhere), within a size bound (no decompression bombs);
- every object in ``config.json`` comes from Keras itself or is one of
  lstmctl's own registered layers; ``Lambda`` layers, serialized Python
  functions and SavedModel wrappers are refused by name.

Anything else is a :class:`~lstmctl.errors.ModelDirError` naming the entry.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from typing import Any

from lstmctl.errors import ModelDirError

ENTRIES = frozenset({"metadata.json", "config.json", "model.weights.h5"})
REQUIRED_ENTRIES = ("config.json", "model.weights.h5")

# lstmctl's models are kilobytes to megabytes; this bounds what an archive may
# expand to, whatever its entries declare.
MAX_UNPACKED_BYTES = 2 << 30
MAX_CONFIG_BYTES = 16 << 20
MAX_RATIO = 200  # unpacked / packed, for entries over 1 MiB

# Classes that carry or load code: refused whatever module they claim.
CODE_CLASSES = frozenset({"Lambda", "__lambda__", "TFSMLayer", "function"})
# Keras' own tags for plain values (tensors, arrays, bytes, slices).
VALUE_TAGS = frozenset(
    {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__"}
)
# Modules besides Keras' own whose classes may appear: lstmctl's registered layers.
LSTMCTL_MODULES = frozenset({"lstmctl.models.layers"})
LSTMCTL_CLASSES = frozenset({"ReverseTime"})


def check_keras_archive(data: bytes, where: str) -> None:
    """Refuse a ``.keras`` archive with anything but plain Keras and lstmctl layers."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as e:
        raise ModelDirError(f"expected a Keras model archive (zip), found {e}", where) from None
    with zf:
        infos = zf.infolist()
        _check_entries(infos, where)
        config = _read_config(zf, where)
    _check_objects(config, where, "config.json")


def _check_entries(infos: list[zipfile.ZipInfo], where: str) -> None:
    names = [i.filename for i in infos]
    for info in infos:
        name = info.filename
        mode = info.external_attr >> 16
        if name not in ENTRIES:
            shown = name if name.isprintable() else repr(name)
            why = (
                "a path leaving the archive"
                if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/")
                else "an entry a Keras model does not have"
            )
            raise ModelDirError(
                f"expected only {', '.join(sorted(ENTRIES))} in the archive, found {shown!s} "
                f"({why}); refusing to load it",
                where,
            )
        if stat.S_ISLNK(mode) or info.is_dir():
            raise ModelDirError(
                f"expected {name} to be a plain file in the archive, found a link or directory",
                where,
            )
        if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ModelDirError(
                f"{name} expands {info.file_size / max(info.compress_size, 1):.0f}-fold "
                f"({info.file_size} bytes): refusing a possible decompression bomb",
                where,
            )
    if len(set(names)) != len(names):
        raise ModelDirError("expected each archive entry once, found duplicates", where)
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED_BYTES:
        raise ModelDirError(
            f"expected at most {MAX_UNPACKED_BYTES >> 30} GiB unpacked, found {total} bytes",
            where,
        )
    missing = [n for n in REQUIRED_ENTRIES if n not in names]
    if missing:
        raise ModelDirError(f"expected {', '.join(missing)} in the archive, found none", where)


def _read_config(zf: zipfile.ZipFile, where: str) -> Any:
    info = zf.getinfo("config.json")
    if info.file_size > MAX_CONFIG_BYTES:
        raise ModelDirError(
            f"expected config.json under {MAX_CONFIG_BYTES >> 20} MiB, found {info.file_size} "
            "bytes",
            where,
        )
    try:
        return json.loads(zf.read(info).decode("utf-8"))
    except RecursionError:
        raise ModelDirError("expected a model config, found JSON nested too deep", where) from None
    except (UnicodeDecodeError, json.JSONDecodeError, zipfile.BadZipFile, RuntimeError) as e:
        raise ModelDirError(
            f"expected config.json to be JSON, found unreadable text ({e})", where
        ) from None


def _check_objects(node: Any, where: str, path: str) -> None:
    """Walk the config: every serialized object must be a Keras or lstmctl class."""
    # Iterative: a hostile config may nest deeper than Python's recursion limit.
    stack: list[tuple[Any, str]] = [(node, path)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(item))
            continue
        if not isinstance(item, dict):
            continue
        if "class_name" in item:
            _check_object(item, where, at)
        stack.extend((v, f"{at}.{k}") for k, v in item.items())


def _check_object(obj: dict[str, Any], where: str, at: str) -> None:
    cls = obj.get("class_name")
    module = obj.get("module")
    if not isinstance(cls, str):
        raise ModelDirError(f"expected a class name at {at}, found {cls!r}", where)
    if cls in CODE_CLASSES:
        raise ModelDirError(
            f"a {cls} object at {at} carries Python code; lstmctl never loads code from a "
            "model directory",
            where,
        )
    if module is None:
        # Keras writes plain values (tensors, arrays) and named layers without a module.
        if cls in VALUE_TAGS or not cls.startswith("__"):
            _check_registered(obj, where, at)
            return
        raise ModelDirError(f"expected a Keras object at {at}, found class {cls!r}", where)
    if not isinstance(module, str):
        raise ModelDirError(f"expected a module name at {at}, found {module!r}", where)
    if module == "keras" or module.startswith("keras."):
        _check_registered(obj, where, at)
        return
    if module in LSTMCTL_MODULES and cls in LSTMCTL_CLASSES:
        return
    raise ModelDirError(
        f"expected only Keras and lstmctl classes, found {module}.{cls} at {at}; "
        "lstmctl does not import modules named by a model directory",
        where,
    )


def _check_registered(obj: dict[str, Any], where: str, at: str) -> None:
    # A registered name is how Keras finds custom classes: only lstmctl's own pass.
    name = obj.get("registered_name")
    if name is None or name == obj.get("class_name"):
        return
    if isinstance(name, str) and name.startswith("lstmctl>") and name[8:] in LSTMCTL_CLASSES:
        return
    raise ModelDirError(
        f"expected a Keras class at {at}, found the custom object {name!r}; lstmctl loads "
        "no custom objects but its own",
        where,
    )
