"""Types shared by the compiler, the closure builders and the runtime.

A leaf module (it imports nothing from the package), so the modules that
build closures and the one that drives them never import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

# Go's int64 range: integer results wrap around inside it.
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1

Fn = Callable[[Mapping[str, Any], Any], Any]
"""A compiled node: ``fn(env, frame)``; ``frame`` is the run's slot list or None."""

Fetch = Callable[[str], Any]
"""``fetch(uri)`` serves ``link()``: the ``data`` member of the resource."""

NO_VALUE: Final[Any] = object()


@dataclass(frozen=True, slots=True)
class Static:
    """What the checker knows of a value: its type and, for a list, its elements'.

    ``elem`` None means the elements' type is unknown (Go's ``[]interface {}``).
    """

    typ: str
    elem: Static | None = None


@dataclass(slots=True)
class Compiled:
    """A compiled node: closure, static type, the value if constant, list elements' type."""

    fn: Fn
    typ: str
    value: Any = NO_VALUE
    elem: Static | None = None

    @property
    def const(self) -> bool:
        return self.value is not NO_VALUE

    @property
    def static(self) -> Static:
        return Static(self.typ, self.elem)


class LinkedMap(dict[str, Any]):
    """A ``link()`` result: upstream returns a pointer to a map (prints ``&map[...]``)."""


ExactInts = dict[int, int]
"""``id()`` of a float decoded from an integer beyond 2^53 -> that integer."""
