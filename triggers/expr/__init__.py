"""expr-lang (v1.17.7) for trigger filters and vars, compatible with Formance.

    prog = compile('event.ledger == "main"')   # raises CompileError
    prog.run({"event": decode_event(raw)})      # raises EvalError
    format_var(value)                           # the string a var becomes
    exact = ExactInts(); decode_event(raw, exact); format_var(v, exact)  # 2^70 stays exact
    prog.run(env, budget=Budget(steps=10_000))  # tighter than MAX_STEPS/MAX_BYTES

Source text is parsed once into a tree, type-checked the way upstream does
without a declared environment, and turned into Python closures; ``run``
only calls them.  See docs/expr.md for the differences from Go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._budget import (
    BYTES_SLOT,
    DEFAULT_BUDGET,
    MAX_BYTES,
    MAX_STEPS,
    STEPS_SLOT,
    Budget,
    OverBudget,
    charge_walk,
    exceeded,
)
from ._builtins import ALL_NAMES, SCALAR_TYPES
from ._compiler import Compiler
from ._decode import decode_json
from ._errors import ChainNil, CompileError, EvalError, ExprError, Fail
from ._format import format_var as _format_var
from ._keys import UNKNOWN, EqualityTest, Path, leading_equalities, value_at
from ._parser import parse
from ._types import ExactInts, Fetch, Fn

__all__ = [
    "MAX_BYTES",
    "MAX_STEPS",
    "UNKNOWN",
    "Budget",
    "CompileError",
    "EqualityTest",
    "EvalError",
    "ExactInts",
    "ExprError",
    "Fetch",
    "Path",
    "Program",
    "compile",
    "decode_event",
    "format_var",
    "leading_equalities",
    "value_at",
]


class Program:
    """A compiled expression; immutable and safe to share between threads."""

    __slots__ = ("_fn", "_frame", "source")

    def __init__(
        self, source: str, fn: Callable[[Mapping[str, Any], Any], Any], frame_size: int
    ) -> None:
        self.source = source
        self._fn = fn
        self._frame: list[Any] | None = None
        if frame_size:
            self._frame = [None] * frame_size
            self._frame[STEPS_SLOT] = MAX_STEPS
            self._frame[BYTES_SLOT] = MAX_BYTES

    def run(
        self, env: Mapping[str, Any], fetch: Fetch | None = None, budget: Budget | None = None
    ) -> Any:
        """Evaluate against ``env``; ``fetch(uri)`` serves ``link()``.

        ``budget`` overrides the default limits of this run (``MAX_STEPS``
        loop steps, ``MAX_BYTES`` of produced text); exceeding them raises
        EvalError.
        """
        try:
            frame = self._frame
            if frame is None:
                return self._fn(env, None)
            slots = frame.copy()
            slots[0] = fetch
            if budget is not None:
                slots[STEPS_SLOT] = budget.steps
                slots[BYTES_SLOT] = budget.memory
            return self._fn(env, slots)
        except OverBudget as exc:
            message = exceeded(exc.kind, budget or DEFAULT_BUDGET)
            raise EvalError.at(message, self.source, exc.pos) from None
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
    fn = compiled.fn
    if size and compiled.typ not in SCALAR_TYPES:
        fn = _charging_result_walk(fn)
    return Program(source, fn, size)


def _charging_result_walk(fn: Fn) -> Fn:
    """A var formats the whole result after the run: charge that walk inside it."""

    def run(env: Mapping[str, Any], frame: Any) -> Any:
        result = fn(env, frame)
        t = type(result)
        if t is list or isinstance(result, dict):
            charge_walk(frame, result)
        return result

    return run


def format_var(value: Any, exact: ExactInts | None = None) -> str:
    """The string a var's result becomes (Go formatting; EXPR.md 1 and 1.1).

    With the ``exact`` table that ``decode_event`` filled, a field holding an
    integer beyond 2^53 prints all its digits instead of Go's rounded float.
    """
    try:
        return _format_var(value, exact)
    except Fail as exc:
        raise EvalError(exc.message) from None


def decode_event(raw: bytes | bytearray | memoryview | str, exact: ExactInts | None = None) -> Any:
    """Decode JSON like Go's ``encoding/json`` into ``any``: numbers are floats.

    Pass an empty ``ExactInts`` to learn the integers beyond 2^53 that the
    floats stand for (valid while the result is alive; see ``format_var``).
    Raises ValueError on invalid JSON.
    """
    return decode_json(raw, exact)
