"""The equality tests a filter begins with, for indexing triggers by them.

A filter ``A1 && A2 && ... && rest`` whose leading conjuncts are each
``event.<path> == "<string>"`` (either side) cannot be true unless every
such test is. Those tests never raise: ``==`` with a string constant is a
plain comparison (``_shapes.equality``) and a constant member path on dicts
and in-range list items is ``_shapes.path_access``'s fast path. So for an
event whose value at ``Ai``'s path (and at the paths of the tests before it)
is reached through that fast path alone, ``Ai`` being false means the whole
filter is false, with no error: skipping the evaluation changes nothing.
Anything else (a path that falls back to ``_values.fetch`` on a missing
intermediate, a non-dict or an out-of-range index) is "unknown", and the
trigger must be evaluated.
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
    """``event.<path> == value`` (path steps: str keys, int list indices)."""

    path: Path
    value: str


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


def _equality(node: syntax.Node) -> EqualityTest | None:
    if not isinstance(node, syntax.Binary) or node.op != "==":
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
