"""expr-lang (v1.17.7) for trigger filters and vars, compatible with Formance.

    prog = compile('event.ledger == "main"')   # raises CompileError
    prog.run({"event": decode_event(raw)})      # raises EvalError
    format_var(value)                           # the string a var becomes

Source text is parsed once into a tree, type-checked the way upstream does
without a declared environment, and turned into Python closures; ``run``
only calls them.  See docs/expr.md for the differences from Go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._builtins import ALL_NAMES
from ._compiler import Compiler
from ._decode import decode_json
from ._errors import ChainNil, CompileError, EvalError, ExprError, Fail
from ._format import format_var as _format_var
from ._link import http_fetcher
from ._parser import parse
from ._types import Fetch

__all__ = [
    "CompileError",
    "EvalError",
    "ExprError",
    "Fetch",
    "Program",
    "compile",
    "decode_event",
    "format_var",
    "http_fetcher",
]


class Program:
    """A compiled expression; immutable and safe to share between threads."""

    __slots__ = ("_fn", "_frame", "source")

    def __init__(
        self, source: str, fn: Callable[[Mapping[str, Any], Any], Any], frame_size: int
    ) -> None:
        self.source = source
        self._fn = fn
        self._frame: list[Any] | None = [None] * frame_size if frame_size else None

    def run(self, env: Mapping[str, Any], fetch: Fetch | None = None) -> Any:
        """Evaluate against ``env``; ``fetch(uri)`` serves ``link()``."""
        try:
            frame = self._frame
            if frame is None:
                return self._fn(env, None)
            slots = frame.copy()
            slots[0] = fetch
            return self._fn(env, slots)
        except Fail as exc:
            raise EvalError.at(exc.message, self.source, exc.pos) from None
        except ChainNil:  # pragma: no cover - every `?.` sits inside a chain
            return None
        except RecursionError:
            raise EvalError("expression too deeply nested") from None
        except (ArithmeticError, TypeError, ValueError, MemoryError) as exc:
            # Last line of defence: bad input must never crash the consumer.
            raise EvalError(f"internal error: {exc}") from None

    def __repr__(self) -> str:
        return f"Program({self.source!r})"


def compile(source: str) -> Program:
    """Parse and type-check ``source``; raises CompileError."""
    if type(source) is not str:
        raise CompileError(f"expression must be a string, not {type(source).__name__}")
    try:
        tree = parse(source, ALL_NAMES)
        compiler = Compiler(source)
        compiled = compiler.compile(tree)
    except RecursionError:
        raise CompileError("expression too deeply nested") from None
    size = compiler.nslots if compiler.uses_frame else 0
    return Program(source, compiled.fn, size)


def format_var(value: Any) -> str:
    """The string a var's result becomes (Go formatting; EXPR.md 1 and 1.1)."""
    try:
        return _format_var(value)
    except Fail as exc:
        raise EvalError(exc.message) from None


def decode_event(raw: bytes | bytearray | memoryview | str) -> Any:
    """Decode JSON like Go's ``encoding/json`` into ``any``: numbers are floats.

    Raises ValueError on invalid JSON.
    """
    return decode_json(raw)
