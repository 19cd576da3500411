"""The layering of docs/contracts.md: envs → algorithms/baselines → harness → results →
leaderboard. No module of ``coopbench.harness`` imports ``coopbench.leaderboard``, at module
level or inside a function (every ``import`` statement in the source is walked)."""

from __future__ import annotations

import ast
from pathlib import Path

import coopbench

PACKAGE = Path(coopbench.__file__).resolve().parent


def imported_modules(source: str, package: str) -> set[str]:
    """Absolute names of every module an ``import``/``from … import`` in ``source`` names
    (any nesting), relative imports resolved against ``package`` (e.g. "coopbench.harness")."""
    package_parts = package.split(".")
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package_parts[: len(package_parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _package_of(path: Path) -> str:
    return ".".join(["coopbench", *path.relative_to(PACKAGE).parent.parts])


def test_imported_modules_sees_function_level_and_relative_imports() -> None:
    source = "def f():\n    from ..leaderboard import scoring\n    import coopbench.leaderboard\n"
    found = imported_modules(source, "coopbench.harness")
    assert {"coopbench.leaderboard", "coopbench.leaderboard.scoring"} <= found
    sweep = (PACKAGE / "harness" / "sweep.py").read_text()
    assert "coopbench.results.store" in imported_modules(sweep, "coopbench.harness")


def test_harness_never_imports_the_leaderboard() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            name
            for name in imported_modules(path.read_text(), _package_of(path))
            if name == "coopbench.leaderboard" or name.startswith("coopbench.leaderboard.")
        )
        for path in sorted((PACKAGE / "harness").rglob("*.py"))
    }
    assert (PACKAGE / "harness" / "run.py").exists()
    assert not {k: v for k, v in offenders.items() if v}, offenders
