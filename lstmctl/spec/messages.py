"""Pydantic's validation errors as one SpecError: the file, the dotted key, what was
expected and what was found, and the nearest key or name for a typo."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from lstmctl.errors import SpecError
from lstmctl.spec.base import MAX_SEED
from lstmctl.spec.schema import Spec
from lstmctl.spec.vocabulary import did_you_mean


def validate_raw(raw: Mapping[str, Any], source: str = "spec") -> Spec:
    """Validate plain data into a Spec (its tune space unchecked), as one SpecError."""
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as e:
        raise _spec_error(e, raw, source) from None
    _check_seeds(spec, source)
    return spec


def _check_seeds(spec: Spec, source: str) -> None:
    """The seed, and every seed derived from it, must be one the generators take.

    Repeat i (of a run, a tuning trial, a diagnosis) is seeded with seed + i;
    so the seed is checked with the most repeats the spec asks for.
    """
    tune = spec.tune
    repeats = max(spec.evaluate.repeats, (tune.repeats or 0) if tune else 0)
    if repeats > MAX_SEED + 1:
        key = "evaluate.repeats" if spec.evaluate.repeats == repeats else "tune.repeats"
        raise SpecError(
            f"expected at most 2**32 repeats (repeat i uses seed + i, and seeds go up to "
            f"2**32 - 1), found {repeats}",
            where=f"{source}: {key}",
        )
    highest = MAX_SEED - (repeats - 1)
    if not 0 <= spec.seed <= highest:
        each = f"; repeat i uses seed + i, for {repeats} repeats" if repeats > 1 else ""
        raise SpecError(
            f"expected an integer from 0 to {highest} (seeds go up to 2**32 - 1{each}), "
            f"found {spec.seed}",
            where=f"{source}: seed",
        )
    if tune is not None and tune.seed is not None and not 0 <= tune.seed <= MAX_SEED:
        raise SpecError(
            f"expected an integer from 0 to {MAX_SEED} (2**32 - 1), found {tune.seed}",
            where=f"{source}: tune.seed",
        )


# Pydantic adds the branch of a union or the kind of a validator to an
# error's location; a user only needs the keys.
def _key_parts(loc: tuple[Any, ...]) -> list[str]:
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif (
            isinstance(item, str)
            and not any(c in item for c in "[(-")
            and item
            not in {
                "int",
                "float",
                "str",
                "bool",
                "list",
                "dict",
                "tuple",
                "constrained-int",
                "constrained-float",
            }
        ):
            parts.append(item)
    return parts


def _dotted(parts: list[str]) -> str:
    out = ""
    for p in parts:
        out += p if p.startswith("[") or not out else f".{p}"
    return out


def _model_at(parts: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Spec
    for p in parts:
        if model is None or p.startswith("["):
            continue
        field = model.model_fields.get(p)
        if field is None:
            return None
        ann = field.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if model is None:
            for arg in getattr(ann, "__args__", ()):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    model = arg
                elif isinstance(arg, type) is False:
                    for inner in getattr(arg, "__args__", ()):
                        if isinstance(inner, type) and issubclass(inner, BaseModel):
                            model = inner
    return model


def found_text(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _spec_error(e: ValidationError, raw: Mapping[str, Any], source: str) -> SpecError:
    errors = e.errors(include_url=False)
    first = errors[0]
    parts = _key_parts(first["loc"])
    # A union (`units: 4` or `units: [4, 8]`) tries every branch: the one that got
    # into the value (a list's item) tells what is wrong with it.
    deeper = [
        err
        for err in errors
        if len(p := _key_parts(err["loc"])) > len(parts) and p[: len(parts)] == parts
    ]
    if deeper and first["type"] != "extra_forbidden":
        first = deeper[0]
        parts = _key_parts(first["loc"])
    key = _dotted(parts) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        # The unknown key is the user's own, whatever it holds (`lstm-units`).
        parts = [*_key_parts(first["loc"][:-1]), str(first["loc"][-1])]
        key = f"{_dotted(parts[:-1])}.{parts[-1]}" if len(parts) > 1 else parts[-1]
        parent = _model_at(parts[:-1])
        known = list(parent.model_fields) if parent else []
        near = difflib.get_close_matches(parts[-1], known, n=1, cutoff=0.6)
        if near:
            hint = f"did you mean {_dotted(parts[:-1] + [near[0]])}?"
        else:
            hint = f"valid keys here: {', '.join(known)}" if known else ""
        msg = f"unknown key; {hint}" if hint else "unknown key"
    elif kind == "missing":
        msg = "required key is missing"
    else:
        # A union reports one error per branch at the same key: say all that was accepted.
        same = [err for err in errors if _key_parts(err["loc"]) == parts]
        expected = "; or ".join(dict.fromkeys(_clean_msg(err["msg"]) for err in same))
        msg = f"expected {expected}, found {found_text(first.get('input'))}"
        if kind == "literal_error" and isinstance(first.get("input"), str):
            allowed = str((first.get("ctx") or {}).get("expected", "")).split("'")[1::2]
            msg += did_you_mean(first["input"], allowed)
        if kind == "value_error":
            msg = _clean_msg(first["msg"])
    # Other keys with errors; the union branches that failed at this key (or above it) are not.
    others = [_key_parts(err["loc"]) for err in errors]
    more = len({_dotted(p) for p in others if p != parts[: len(p)]})
    if more > 0:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    # A check across sections (`_coherent`) names its keys itself.
    return SpecError(msg, where=f"{source}: {key}" if parts else source)


def _clean_msg(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    msg = msg.replace("Input should be ", "")
    msg = re.sub(r"a valid dictionary or instance of \w+", "a mapping of keys", msg)
    return msg[0].lower() + msg[1:] if msg else msg
