"""The layout rules of issue #17, checked on the source: no import loops, dependencies
one way (core -> train -> export -> sim -> hw -> CLI), no function over 80 lines."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"spikeport": "spikeport", "train": "spikeport.train", "export": "spikeport.export",
            "sim": "spikeport.sim", "hw": "spikeport.hw"}
# the small core every stage may use
CORE = {"spikeport", "spikeport.errors", "spikeport.atomic", "spikeport.lava_compat", "spikeport.fixed_point",
        "spikeport.geometry", "spikeport.units", "spikeport.arrays", "spikeport.memory", "spikeport.locks",
        "spikeport.options"}
ORDER = ("spikeport.train", "spikeport.export", "spikeport.sim", "spikeport.hw")


def _modules() -> dict[str, Path]:
    found = {}
    for folder, name in PACKAGES.items():
        for p in sorted((ROOT / folder).glob("*.py")):
            found[name if p.stem == "__init__" else f"{name}.{p.stem}"] = p
    return found


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Every spikeport module each module imports, at the top or inside functions."""
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            graph[m] |= {n for n in names if n in mods and n != m}
    return graph


def _layer(m: str) -> int:
    if m in CORE:
        return 0
    for i, pkg in enumerate(ORDER, start=1):
        if m == pkg or m.startswith(pkg + "."):
            return i
    return len(ORDER) + 1            # CLI and glue


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_no_module_imports_one_that_imports_it_back():
    assert _cycle(_imports(_modules())) is None


def test_dependencies_point_one_way():
    graph = _imports(_modules())
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps if _layer(d) > _layer(m))
    assert upward == []


def test_no_function_is_over_80_lines():
    long = []
    for m, p in _modules().items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                long.append(f"{m}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert long == []


def test_the_checks_see_a_loop_and_an_upward_import():
    """The walk itself must find what it looks for (a check that cannot fail proves nothing)."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _layer("spikeport.train.kws") < _layer("spikeport.hw.energy") < _layer("spikeport.cli")
