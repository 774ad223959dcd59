"""The package's structure: one-way layers, no import cycles, modules under 600 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "immunetwin"

# each subpackage may import only those of a lower rank (errors and engine sit under everything)
RANK = {
    "errors": 0,
    "engine": 1,
    "model": 2,
    "simulate": 3,
    "data": 4,
    "datasets": 4,
    "inference": 5,
    "twin": 6,
    "validate": 7,
    "cohort": 7,
    "store": 8,
    "server": 9,
    "cli": 10,
    "demo": 11,
    "__main__": 11,
}


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _runtime_imports(path: Path, name: str) -> set[str]:
    """Absolute names of the package modules ``path`` imports at run time (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = pkg[: len(pkg) - (node.level - 1)] + ([node.module] if node.module else [])
        target = ".".join(base)
        found.add(target)
        found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


MODULES = _modules()
EDGES = {
    m: {t for t in _runtime_imports(p, m) if t in MODULES and t != m} for m, p in MODULES.items()
}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_layers_import_only_lower_layers() -> None:
    wrong = [
        f"{m} imports {t}"
        for m, targets in EDGES.items()
        for t in targets
        if _layer(m) in RANK and _layer(t) in RANK and RANK[_layer(t)] > RANK[_layer(m)]
    ]
    assert not wrong


def test_no_import_cycles_between_private_modules() -> None:
    graph = {
        m: {t for t in ts if MODULES[t].name != "__init__.py"}
        for m, ts in EDGES.items()
        if MODULES[m].name != "__init__.py"
    }
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in graph.get(m, ()):
            if state.get(t) == 1:
                cycles.append(" -> ".join(path[path.index(t) :] + [t]) if t in path else t)
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles


def test_modules_under_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 600
    }
    assert not long


def test_the_checks_see_the_package() -> None:
    assert len(MODULES) > 100
    assert "immunetwin.inference" in EDGES["immunetwin.twin._recipe"]
