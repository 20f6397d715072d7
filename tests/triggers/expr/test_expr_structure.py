"""Structure of the package: no import cycles, one builder per predicate builtin."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from triggers.expr._builtins import PREDICATE_RESULTS
from triggers.expr._predicates import BUILDERS

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[3] / "triggers" / "expr"


def _imports() -> dict[str, set[str]]:
    """Module -> package modules it imports (relative imports, even under TYPE_CHECKING)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module)
                else:
                    deps.update(alias.name for alias in node.names)
        graph[path.stem] = deps
    return graph


def test_the_package_has_no_import_cycle() -> None:
    graph = _imports()
    assert "_types" in graph
    assert not graph["_types"], "_types must stay a leaf"

    def visit(module: str, path: list[str]) -> None:
        for dep in graph.get(module, ()):
            assert dep not in path, f"import cycle: {' -> '.join([*path, dep])}"
            visit(dep, [*path, dep])

    for module in graph:
        visit(module, [module])


def test_every_predicate_builtin_has_a_builder() -> None:
    assert set(BUILDERS) == set(PREDICATE_RESULTS)
