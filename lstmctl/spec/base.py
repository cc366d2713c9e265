"""What every section of the schema shares: strict models, 32-bit counts, part sizes."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

# Counts the compiled trainer compares with its 32-bit counters (epochs, patience,
# batches): past 2**31 - 1, JAX refuses them.
Count32 = Annotated[int, Field(gt=0, le=2**31 - 1)]
# Every seed a run derives (seed + i for repeat i) goes to NumPy's and Keras'
# generators, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def _kinds(annotation: Any) -> set[Any]:
    """The types a field accepts, through ``X | Y`` and ``Annotated`` (not into lists)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kinds(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return set().union(*(_kinds(a) for a in get_args(annotation)))
    return {annotation}


class Strict(BaseModel):
    """A section of the spec: unknown keys are errors, and true is not a number."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, v: Any, info: ValidationInfo) -> Any:
        # Pydantic reads true as 1 where a number is expected; in a spec that is a
        # mistake (`test: yes`, `epochs: true`), not a count.
        if isinstance(v, bool) and info.field_name in cls.model_fields:
            kinds = _kinds(cls.model_fields[info.field_name].annotation)
            if kinds & {int, float} and bool not in kinds:
                raise ValueError(f"expected a number, found {str(v).lower()}")
        return v


def check_part(v: int | float, key: str, allow_zero: bool) -> int | float:
    if isinstance(v, bool):
        raise ValueError(f"{key} must be a number of rows or a fraction, found {v!r}")
    if isinstance(v, float) and not v.is_integer():
        if not 0.0 < v < 1.0:
            raise ValueError(f"a fraction for {key} must lie in (0, 1), found {v}")
        return v
    n = int(v)
    if n < 0 or (n == 0 and not allow_zero):
        raise ValueError(f"{key} must be {'>= 0' if allow_zero else '> 0'} rows, found {n}")
    return n
