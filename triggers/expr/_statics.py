"""Upstream's type-checker rules between static types (EXPR.md 1, 5-7, 10).

Flows compiles without a declared environment, so the checker knows only
literals, builtin results and what flows from them: a literal array's
element type (``[1, 2]`` holds ints), the element ``#`` of such an array in
a predicate, a ``let`` bound to one, times from ``date()``.  ``T_ANY`` is
Go's "unknown": a value read from ``event`` is only rejected beside a literal
the operator never takes (``event.x + true``), else it is checked when run.

Each ``*_error`` function returns upstream's message, or None when the
operands may be valid at run time.  Static types only decide errors: a value
can still be nil where the checker expects an element (``find`` on no
match), as in Go.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._builtins import (
    NUMERIC,
    T_ANY,
    T_BOOL,
    T_DURATION,
    T_FLOAT,
    T_INT,
    T_LIST,
    T_MAP,
    T_NIL,
    T_STR,
    T_TIME,
)
from ._types import Compiled, Static

UNKNOWN = Static(T_ANY)
TIMES = frozenset({T_TIME, T_DURATION})


def element(of: Static) -> Static | None:
    """The known element type of a list, else None."""
    return of.elem if of.typ == T_LIST else None


def item_static(of: Static) -> Static:
    """What indexing ``of`` yields: the element type of a typed list, else unknown."""
    return element(of) or UNKNOWN


def literal_elem(items: Sequence[Compiled]) -> Static | None:
    """Element type of an array literal.

    Upstream types ``[a, b, ...]`` by its last item when all items share a
    kind (``[[1], ["a"]]`` holds ``[]string`` lists to Go).  An unknown item
    makes the whole element type unknown here: this port also says
    "unknown" for values Go knows (times), so it must not pair them with nil.
    """
    if not items or any(i.typ == T_ANY for i in items):
        return None
    if len({i.typ for i in items}) != 1:
        return None
    return items[-1].static


# Types of the operands each arithmetic operator accepts with an unknown
# other side (upstream's MaybeCompatible checks).
_PARTNERS: dict[str, frozenset[str]] = {
    "+": NUMERIC | {T_STR, T_TIME, T_DURATION},
    "-": NUMERIC | {T_TIME, T_DURATION},
    "*": NUMERIC | {T_DURATION},
    "/": NUMERIC,
    "**": NUMERIC,
    "^": NUMERIC,
    "%": frozenset({T_INT}),
}
# Results of the pairs of known types each operator accepts.
_TIME_PAIRS: dict[str, dict[tuple[str, str], str]] = {
    "+": {
        (T_STR, T_STR): T_STR,
        (T_TIME, T_DURATION): T_TIME,
        (T_DURATION, T_TIME): T_TIME,
        (T_DURATION, T_DURATION): T_DURATION,
    },
    "-": {
        (T_TIME, T_TIME): T_DURATION,
        (T_TIME, T_DURATION): T_TIME,
        (T_DURATION, T_DURATION): T_DURATION,
    },
    "*": {
        (T_INT, T_DURATION): T_DURATION,
        (T_FLOAT, T_DURATION): T_DURATION,
        (T_DURATION, T_INT): T_DURATION,
        (T_DURATION, T_FLOAT): T_DURATION,
        (T_DURATION, T_DURATION): T_DURATION,
    },
}


def arithmetic_result(op: str, left: str, right: str) -> str | None:
    """Static type of ``left op right``, None when upstream rejects the pair."""
    if op == "%":
        fixed: str | None = T_INT
    elif op in ("/", "**", "^"):
        fixed = T_FLOAT
    else:
        fixed = None
    if left == T_ANY or right == T_ANY:
        known = right if left == T_ANY else left
        if known != T_ANY and known not in _PARTNERS[op]:
            return None
        return fixed or T_ANY
    if left in NUMERIC and right in NUMERIC and op != "%":
        if fixed is not None:
            return fixed
        return T_INT if left == right == T_INT else T_FLOAT
    if op == "%":
        return T_INT if left == right == T_INT else None
    return _TIME_PAIRS.get(op, {}).get((left, right))


def comparable(left: str, right: str) -> bool:
    """Go's ComparableTo: ``==`` and ``in`` accept these pairs."""
    if T_ANY in (left, right) or T_NIL in (left, right):
        return True
    if left in NUMERIC and right in NUMERIC:
        return True
    return left == right


def membership_error(needle: Static, haystack: Static) -> str | None:
    """``needle in haystack``."""
    if haystack.typ == T_MAP:
        if needle.typ not in (T_ANY, T_STR):
            return f"cannot use {needle.typ} as type string in map key"
        return None
    if haystack.typ == T_LIST:
        elem = item_static(haystack)
        if not comparable(needle.typ, elem.typ):
            return f"cannot use {needle.typ} as type {elem.typ} in array"
        return None
    if haystack.typ == T_ANY or (needle.typ == T_ANY and haystack.typ == T_STR):
        return None
    if haystack.typ == T_TIME and needle.typ in (T_ANY, T_STR):
        return None  # upstream lets a string name a field of a struct
    return f"invalid operation: in (mismatched types {needle.typ} and {haystack.typ})"


def member_error(obj: str, prop: str, name: str | None) -> str | None:
    """``obj[prop]``, or ``obj.name`` / ``obj["name"]`` when ``name`` is given."""
    if obj == T_ANY or obj in TIMES:
        return None  # times have methods (`.Year()`): not modelled, left to run time
    if name is not None and obj == T_NIL:
        return f"type nil has no field {name}"
    if obj == T_MAP:
        if prop not in (T_ANY, T_STR):
            return f"cannot use {prop} to get an element from {obj}"
        return None
    if obj == T_LIST:
        if prop not in (T_ANY, T_INT):
            return f"array elements can only be selected using an integer (got {prop})"
        return None
    if name is not None:
        return f"type {obj} has no field {name}"
    return f"type {obj}[{prop}] is undefined"


def get_error(base: str, key: str) -> tuple[str, bool] | None:
    """``get(base, key)``: (message, whether it points at the key) or None."""
    if base == T_ANY:
        return None
    if base == T_LIST:
        if key not in (T_ANY, T_INT):
            return f"non-integer slice index {key}", True
        return None
    if base == T_MAP:
        if key not in (T_ANY, T_STR):
            return f"cannot use {key} to get an element from {base}", True
        return None
    return f"type {base} does not support indexing", False


def coalesce_static(left: Static, right: Static) -> Static:
    """Static type of ``left ?? right``."""
    if left.typ == T_NIL:
        return right
    if right.typ == T_NIL or (left.typ == right.typ != T_ANY):
        return left
    return UNKNOWN


def branches_static(then: Static, other: Static) -> Static:
    """Static type of ``c ? then : other``: one side's when Go can tell."""
    if then.typ == T_NIL:
        return other
    if other.typ == T_NIL:
        return then
    if then.typ != other.typ or then.typ == T_ANY:
        return UNKNOWN
    if then.typ == T_LIST:
        e1, e2 = element(then), element(other)
        if e1 is None or e2 is None or e1.typ != e2.typ or e1.typ == T_ANY:
            return Static(T_LIST)
    return then


# Predicate builtins whose predicate must yield a bool.
BOOL_PREDICATES = frozenset(
    {"all", "any", "none", "one", "filter", "count"}
    | {"find", "findIndex", "findLast", "findLastIndex"}
)


def predicate_error(name: str, body: Static) -> str | None:
    """The predicate of ``name(list, body)``."""
    if body.typ == T_NIL:
        # A nil body gives upstream a predicate with no result at all.
        inputs = "two" if name == "reduce" else "one"
        return f"predicate should has {inputs} input and one output param"
    if name in BOOL_PREDICATES and body.typ not in (T_BOOL, T_ANY):
        return f"predicate should return boolean (got {body.typ})"
    return None


def predicate_result(name: str, items: Static, body: Static | None) -> Static:
    """Static type of ``name(items, body)`` (``body`` None: no predicate given)."""
    if name in ("all", "any", "none", "one"):
        return Static(T_BOOL)
    if name in ("count", "findIndex", "findLastIndex"):
        return Static(T_INT)  # findIndex yields nil on no match, still int to Go
    if name == "filter" or name == "sortBy":
        return Static(T_LIST, element(items))
    if name == "map":
        return Static(T_LIST, body if body is not None and body.typ != T_ANY else None)
    if name in ("find", "findLast") or (name == "sum" and body is None):
        return item_static(items)
    if name == "sum" and body is not None:
        return body
    if name == "groupBy":
        return Static(T_MAP)
    return UNKNOWN  # reduce: kept unknown (its init may differ from the body)
