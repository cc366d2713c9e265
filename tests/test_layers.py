"""The house in layers (DESIGN.md): every import runs down a layer or stays in one, no cycles.

Every ``import`` and ``from ... import`` in ``lstmctl/`` is read with ``ast``,
those inside functions included (an import hidden in a function is still a
dependency; it only hides a cycle). A module may import its own layer or any
layer below it, never one above; and the modules' imports, all together,
form no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "lstmctl"

# From the top floor down. A module belongs to the first entry that is its
# dotted name or a package above it.
LAYERS: list[tuple[str, ...]] = [
    ("lstmctl.cli", "lstmctl.__init__", "lstmctl.__main__"),
    ("lstmctl.api",),
    ("lstmctl.workflows",),
    ("lstmctl.serving",),
    ("lstmctl.tuning",),
    ("lstmctl.modeldir",),
    ("lstmctl.evaluation",),
    ("lstmctl.history",),
    ("lstmctl.report",),
    ("lstmctl.training",),
    ("lstmctl.models",),
    ("lstmctl.data",),
    ("lstmctl.spec",),
    (
        "lstmctl.errors",
        "lstmctl.signals",
        "lstmctl.rundir",
        "lstmctl.targets",
        "lstmctl.memory",
        "lstmctl.version",
    ),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1 and parts[:-1] != ("lstmctl",):
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    for depth, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return depth
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and DESIGN.md's picture)")


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The lstmctl modules ``module`` imports, at any depth of its code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                base = ".".join(up[: len(up) - node.level + 1] + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod when there is one.
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for name in names:
            if not name.startswith("lstmctl"):
                continue
            while name not in known and "." in name:
                name = name.rpartition(".")[0]
            if name in known and name != module:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules) | {"lstmctl"}
    return {m: _imports(m, p, known) - {"lstmctl"} for m, p in modules.items()}


def test_every_module_is_in_a_layer() -> None:
    for module in _modules():
        _layer(module)


def test_imports_only_run_down() -> None:
    upward = [
        f"{m} (layer {_layer(m)}) imports {d} (layer {_layer(d)})"
        for m, deps in _graph().items()
        for d in sorted(deps)
        if _layer(d) < _layer(m)
    ]
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append(path[path.index(d) :] + [d])
            elif d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    # The cycles this test guards against were hidden in function bodies.
    src = "def f():\n    from lstmctl.cli import app\n    import lstmctl.api\n"
    path = tmp_path / "m.py"
    path.write_text(src)
    known = {"lstmctl.cli", "lstmctl.api", "lstmctl.spec"}
    assert _imports("lstmctl.spec", path, known) == {"lstmctl.cli", "lstmctl.api"}
