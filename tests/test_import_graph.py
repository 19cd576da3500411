"""The modules of ``coopbench.envs`` import each other as a tree (a DAG): no cycle, also
counting imports written inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import coopbench.envs

PACKAGE = "coopbench.envs"
ROOT = Path(coopbench.envs.__file__).parent


def module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def imports(path: Path, modules: set[str]) -> set[str]:
    """The modules of the package that ``path`` imports, anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from coopbench.envs import kernels`` imports the submodule kernels
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            found.update(subs & modules or {node.module})
    return found & modules


def import_graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.glob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports(p, modules) - {module_name(p)} for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_envs_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 10 and graph[f"{PACKAGE}.registry"]  # the walk saw the package
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
    # the package itself is the top: no module of it imports coopbench.envs by name
    assert not [m for m, deps in graph.items() if PACKAGE in deps]
