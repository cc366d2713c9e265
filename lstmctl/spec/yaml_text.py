"""Reading YAML strictly: duplicate keys, bad scalars and runaway aliases are SpecErrors.

Both spec files (:func:`lstmctl.spec.loading.load_spec`) and ``--set``
values (:func:`lstmctl.spec.derive.apply_override`) are read here.
"""

from __future__ import annotations

from typing import Any

import yaml

from lstmctl.errors import SpecError
from lstmctl.spec.messages import found_text


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping.

    PyYAML keeps the last of two equal keys without a word, so a second
    ``model:`` section would silently replace the first. It also lets some bad
    scalars out as plain Python errors (an implicit date ``2020-13-45``,
    ``!!int abc``): those become YAML errors at the value's line and column.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            what = (
                f"{found_text(node.value)} as !!{node.tag.rsplit(':', 1)[-1]}"
                if isinstance(node, yaml.ScalarNode)
                else "a value"
            )
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {what} ({reason})", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` keys may be overridden: that is what merging is for
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not key_node:
                a, b = first.start_mark.line + 1, key_node.start_mark.line + 1
                lines = f"on line {a}" if a == b else f"on lines {a} and {b}"
                raise yaml.constructor.ConstructorError(
                    None, None, f"found key {key!r} twice, {lines}; keep one", key_node.start_mark
                )
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, source: str) -> Any:
    """Safe-load YAML, refusing duplicate keys; errors give the line and column."""
    try:
        value = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no Python objects
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        msg = str(e.problem or e)
        cm = e.context_mark
        if e.context and cm is not None and (mark is None or cm.index != mark.index):
            # Where the construct began: an unclosed bracket or quote is found lines later.
            msg += f" ({e.context} at line {cm.line + 1}, column {cm.column + 1})"
        raise SpecError(f"invalid YAML: {msg}", where=where) from None
    except yaml.reader.ReaderError as e:
        # A control character PyYAML will not read; its str() spans two lines.
        line = text.count("\n", 0, e.position) + 1
        column = e.position - text.rfind("\n", 0, e.position)
        code = e.character if isinstance(e.character, int) else ord(e.character)
        raise SpecError(
            f"invalid YAML: found the control character U+{code:04X}, which YAML does not allow",
            where=f"{source}:{line}:{column}",
        ) from None
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {e}", where=source) from None
    except RecursionError:
        raise SpecError(
            f"expected at most {_MAX_DEPTH} levels of nesting, found more",
            where=source,
        ) from None
    _check_size(value, source)
    return value


# Aliases let a few lines of YAML stand for a huge structure (the "billion
# laughs") or an endless one (an alias inside its own anchor). PyYAML shares
# the aliased objects, but validating or printing them expands them: specs
# are small, so anything past these bounds is refused before that happens.
_MAX_VALUES = 100_000
_MAX_DEPTH = 64
# Beyond 64 bits an integer is no count, size or seed (and Python will not
# even print one of more than 4300 digits).
_MAX_INT = 2**63


def _check_size(value: Any, source: str) -> None:
    count = 0

    def walk(v: Any, key: str, depth: int, open_: set[int]) -> None:
        nonlocal count
        count += 1
        where = f"{source}: {key}" if key else source
        if count > _MAX_VALUES:
            raise SpecError(
                f"expected at most {_MAX_VALUES} values, found more (aliases expanding too far?)",
                where=source,
            )
        if isinstance(v, int) and not -_MAX_INT <= v < _MAX_INT:
            raise SpecError(
                f"expected an integer from -2**63 to 2**63-1, found one of {v.bit_length()} bits",
                where=where,
            )
        if isinstance(v, float) and not abs(v) < float("inf"):
            # No setting means .nan or .inf, and a saved spec would turn them into null.
            raise SpecError(f"expected a finite number, found {v}", where=where)
        if not isinstance(v, dict | list | tuple):
            return
        if id(v) in open_:
            raise SpecError(
                "expected no recursive aliases, found a value that contains itself", where=where
            )
        if depth >= _MAX_DEPTH:
            raise SpecError(
                f"expected at most {_MAX_DEPTH} levels of nesting, found more", where=source
            )
        open_.add(id(v))
        for k, item in v.items() if isinstance(v, dict) else enumerate(v):
            sub = (f"{key}.{k}" if key else str(k)) if isinstance(v, dict) else f"{key}[{k}]"
            walk(item, sub, depth + 1, open_)
        open_.discard(id(v))

    walk(value, "", 0, set())
