"""Reading a spec: YAML in (strictly), ``--set`` overrides, one validated Spec out.

``load_spec(path, overrides)`` is the only place YAML is read. Everything
downstream receives a :class:`Spec`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lstmctl.errors import SpecError, undecodable
from lstmctl.spec.derive import apply_override
from lstmctl.spec.messages import validate_raw
from lstmctl.spec.schema import Spec
from lstmctl.spec.tune_space import check_space
from lstmctl.spec.yaml_text import parse_yaml


def load_spec(path: str | Path, overrides: Iterable[str] = ()) -> Spec:
    """Read a YAML spec, apply ``key.path=value`` overrides and validate it."""
    path = Path(path)
    if not path.exists():
        raise SpecError("spec file not found", where=str(path))
    if path.is_dir():
        raise SpecError("expected a YAML file, found a directory", where=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line, found = undecodable(e)
        raise SpecError(
            f"expected UTF-8 text, {found} ({e.reason}); save the file as UTF-8", f"{path}:{line}"
        ) from None
    raw = parse_yaml(text, str(path))
    if not isinstance(raw, dict):
        found = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise SpecError(
            f"expected a mapping of keys (name:, data:, model:, ...), found {found}", str(path)
        )
    raw.setdefault("name", path.stem)
    for item in overrides:
        apply_override(raw, item)
    spec = validate_spec(raw, source=str(path))
    if spec.data.path is not None:
        spec.data.path = _resolve_data_path(spec.data.path, path)
    if isinstance(spec.data.params.get("path"), str):  # a generated problem's input file
        spec.data.params["path"] = _resolve_data_path(spec.data.params["path"], path)
    return spec


def validate_spec(raw: Mapping[str, Any], source: str = "spec") -> Spec:
    """Validate plain data into a Spec, turning pydantic's errors into one SpecError."""
    spec = validate_raw(raw, source)
    if spec.tune is not None:
        # The search space names spec keys: checked against the spec itself.
        check_space(spec, source)
    return spec


def _resolve_data_path(data_path: str, spec_path: Path) -> str:
    # Relative paths are read from the current directory (the repository root
    # in the README's commands), else from beside the spec file.
    p = Path(data_path)
    if p.is_absolute() or p.exists():
        return str(p)
    beside = spec_path.parent / p
    return str(beside) if beside.exists() else str(p)
