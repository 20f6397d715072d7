"""The simple tests a filter begins with, for indexing triggers by them.

A filter ``A1 && A2 && ... && rest`` cannot be true unless each leading
conjunct is. The leading conjuncts recognised here are tests of one constant
member path of the event (``_shapes.path_access``'s fast path: dict keys and
in-range list items), each of which provably does not raise for a known value:

- ``event.<path> == "<string>"`` (either side): a plain comparison, never raises;
- ``event.<path> <op> <number>`` (``<``, ``>``, ``<=``, ``>=``): no error when the
  value is a number (``_values.less``);
- ``event.<path> in ["<string>", ...]``: no error when the value is a string or nil
  (``_shapes.in_string_set``).

So when an event's values at the paths of ``A1 .. Ai-1`` are known and safe
for their tests, and ``Ai`` is an equality test whose value differs, the whole
filter is false with no error: skipping its evaluation changes nothing.
A path that would fall back to ``_values.fetch`` (a missing intermediate, a
non-dict, an out-of-range index) is ``UNKNOWN``, and the trigger is evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _ast as syntax
from ._builtins import ALL_NAMES
from ._errors import CompileError
from ._parser import parse
from ._shapes import flatten_path

Path = tuple[str | int, ...]

# Root of the event payload in the environment the worker builds.
ROOT = "event"


@dataclass(frozen=True, slots=True)
class EqualityTest:
    """``event.<path> <op> value`` (path steps: str keys, int list indices);
    ``op`` is ``==`` (a str value), an ordering (a number) or ``in`` (a frozenset)."""

    path: Path
    value: Any
    op: str = "=="

    def safe(self, value: Any) -> bool:
        """Evaluating the test on this (known) value cannot raise."""
        if self.op == "==":
            return True
        if self.op == "in":
            return value is None or type(value) is str
        return type(value) is int or type(value) is float


def leading_equalities(source: str) -> tuple[EqualityTest, ...]:
    """The run of equality tests the filter's top-level ``&&`` chain begins with;
    empty when it begins with anything else (or does not parse)."""
    try:
        tree = parse(source, ALL_NAMES)
    except (CompileError, RecursionError):
        return ()
    conjuncts: list[syntax.Node] = []
    _flatten_and(tree, conjuncts)
    tests: list[EqualityTest] = []
    for node in conjuncts:
        test = _equality(node)
        if test is None:
            break
        tests.append(test)
    return tuple(tests)


def _flatten_and(node: syntax.Node, out: list[syntax.Node]) -> None:
    # Left-associative: the leftmost leaf is evaluated first.
    while isinstance(node, syntax.Binary) and node.op in ("&&", "and"):
        _flatten_and(node.left, out)
        node = node.right
    out.append(node)


_ORDERINGS = ("<", ">", "<=", ">=")


def _path(node: syntax.Node) -> Path | None:
    if not isinstance(node, syntax.Member):
        return None
    flat = flatten_path(node)
    if flat is None or flat[0] != ROOT:
        return None
    return tuple(step[0] for step in flat[1])


def _equality(node: syntax.Node) -> EqualityTest | None:
    if not isinstance(node, syntax.Binary):
        return None
    if node.op in _ORDERINGS:
        path, bound = _path(node.left), node.right
        if path is None or not isinstance(bound, syntax.Literal):
            return None
        if type(bound.value) not in (int, float):
            return None
        return EqualityTest(path, bound.value, node.op)
    if node.op == "in":
        path, items = _path(node.left), node.right
        if path is None or not isinstance(items, syntax.ArrayLit) or not items.items:
            return None
        literals = [i.value for i in items.items if isinstance(i, syntax.Literal)]
        if len(literals) < len(items.items) or any(type(v) is not str for v in literals):
            return None
        return EqualityTest(path, frozenset(literals), "in")
    if node.op != "==":
        return None
    for path_side, constant in ((node.left, node.right), (node.right, node.left)):
        if not isinstance(constant, syntax.Literal) or type(constant.value) is not str:
            continue
        if not isinstance(path_side, syntax.Member):
            continue
        flat = flatten_path(path_side)
        if flat is None or flat[0] != ROOT:
            continue
        return EqualityTest(tuple(step[0] for step in flat[1]), constant.value)
    return None


UNKNOWN: Any = object()


def value_at(root: Any, path: Path) -> Any:
    """The value ``path`` reaches from ``root`` on the evaluator's fast path, or
    ``UNKNOWN`` where evaluating it would take any other route."""
    v = root
    for step in path:
        if type(step) is str:
            if type(v) is not dict:
                return UNKNOWN
            v = v.get(step)
        else:
            if type(v) is not list:
                return UNKNOWN
            try:
                v = v[step]  # type: ignore[index]
            except IndexError:
                return UNKNOWN
    return v
