"""Sizes that cannot fit are refused before anything is allocated.

A spec can ask for arrays no machine holds (a generated problem of 3000 x 3000
frames, an LSTM of ten million units). Allocating them does not fail cleanly:
NumPy raises a MemoryError deep inside a generator, and XLA may abort the
whole process. So each stage estimates what it needs from the spec and the
data shapes (arithmetic only: nothing heavy is imported) and compares it with
the machine's memory with :func:`check_fits`.

The estimates are lower bounds of the big arrays, and the limit is all the
memory of the machine (or of its container), not what is free now: a refused
spec could not run here whatever else was running.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from lstmctl.errors import SpecError

# Exception classes that mean "out of memory", by name: no framework is imported to ask.
_OOM_CLASSES = {"MemoryError", "ResourceExhaustedError"}  # Python / NumPy; TensorFlow
_XLA_CLASSES = {"XlaRuntimeError", "JaxRuntimeError"}  # JAX: OOM when RESOURCE_EXHAUSTED
# Where a container's limit is kept (cgroup v2, then v1); "max" or a huge number is none.
_CGROUP_LIMITS = (
    "/sys/fs/cgroup/memory.max",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
)


@cache
def memory_limit() -> int | None:
    """Bytes of memory this process can have at most: the machine's, or its container's."""
    sizes = []
    with contextlib.suppress(AttributeError, ValueError, OSError):  # no sysconf (Windows)
        sizes.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    for name in _CGROUP_LIMITS:
        try:
            text = Path(name).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text.isdigit() and 0 < int(text) < 2**62:
            sizes.append(int(text))
    return min(sizes) if sizes else None


def human(n: float) -> str:
    """``n`` bytes as ``9.8 TiB``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            break
        n /= 1024
    if unit == "bytes":
        return f"{int(n)} bytes"
    return f"{n:.1f} {unit}" if n < 1024 else f"{n:,.0f} {unit}"


def fits(need: int) -> bool:
    """Whether ``need`` bytes fit in the memory (True when it cannot be told)."""
    limit = memory_limit()
    return limit is None or need <= limit


def check_fits(need: int, where: str, what: str, fix: str | None = None) -> None:
    """Raise a SpecError at ``where`` when ``need`` bytes (for ``what``) exceed the memory.

    ``what`` completes "about 9.8 TiB needed for ..."; ``fix`` says what to
    change (default: make ``where`` smaller).
    """
    limit = memory_limit()
    if limit is None or need <= limit:
        return
    raise SpecError(
        f"expected sizes that fit in this machine's {human(limit)} of memory, found about "
        f"{human(need)} needed for {what}; {fix or f'make {where} smaller'}",
        where=where,
    )


def culprit(
    estimate: Callable[[Any], int], obj: Any, keys: Iterable[tuple[str, ...]]
) -> tuple[str, ...]:
    """The key of ``obj`` (pydantic models, nested) whose value costs the most memory.

    Each candidate key in turn is put back to its default; the one whose reset
    shrinks ``estimate(obj)`` the most is the one to name in the error.
    """
    best: tuple[int, tuple[str, ...]] | None = None
    for key in keys:
        smaller = estimate(_with_default(obj, key))
        if best is None or smaller < best[0]:
            best = (smaller, key)
    if best is None:
        raise ValueError("no candidate keys")
    return best[1]


def _with_default(obj: Any, key: tuple[str, ...]) -> Any:
    head, *rest = key
    if rest:
        return obj.model_copy(update={head: _with_default(getattr(obj, head), tuple(rest))})
    default = type(obj).model_fields[head].get_default(call_default_factory=True)
    return obj.model_copy(update={head: default})


def out_of_memory(e: BaseException) -> str | None:
    """``"out of memory: ..."`` when ``e`` says memory ran out, else None.

    Recognised: ``MemoryError`` (Python, NumPy), TensorFlow's
    ``ResourceExhaustedError`` and JAX's runtime error whose message starts
    ``RESOURCE_EXHAUSTED`` (XLA could not allocate a buffer).
    """
    names = {c.__name__ for c in type(e).__mro__}
    text = str(e).strip()
    if not (names & _OOM_CLASSES or (names & _XLA_CLASSES and "RESOURCE_EXHAUSTED" in text[:40])):
        return None
    first = text.splitlines()[0] if text else type(e).__name__
    return f"out of memory: {first[:200]}"
