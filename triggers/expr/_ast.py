"""Syntax tree produced by the parser; ``pos`` is a character offset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Node:
    pos: int


@dataclass(slots=True)
class Literal(Node):
    value: Any


@dataclass(slots=True)
class Ident(Node):
    name: str


@dataclass(slots=True)
class Pointer(Node):
    """``#`` (name ""), ``#index``, ``#acc`` inside a predicate."""

    name: str


@dataclass(slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(slots=True)
class Member(Node):
    """``x.name``, ``x[expr]`` and their ``?.`` forms."""

    obj: Node
    prop: Node
    optional: bool = False


@dataclass(slots=True)
class Slice(Node):
    obj: Node
    lo: Node | None
    hi: Node | None


@dataclass(slots=True)
class Chain(Node):
    """Scope of ``?.`` short-circuits: a nil at an optional link ends here."""

    inner: Node


@dataclass(slots=True)
class Call(Node):
    """Call of a builtin (``builtin`` True) or of an env function/unknown name."""

    name: str
    args: list[Node]
    builtin: bool
    callee: Node | None = None


@dataclass(slots=True)
class Predicate(Node):
    body: Node


@dataclass(slots=True)
class ArrayLit(Node):
    items: list[Node]


@dataclass(slots=True)
class MapLit(Node):
    pairs: list[tuple[Node, Node]] = field(default_factory=list)


@dataclass(slots=True)
class Cond(Node):
    cond: Node
    then: Node
    other: Node


@dataclass(slots=True)
class Let(Node):
    name: str
    value: Node
    body: Node


@dataclass(slots=True)
class Seq(Node):
    items: list[Node]
