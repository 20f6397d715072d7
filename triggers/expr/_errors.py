"""Error types of the expression engine.

ExprError
 +-- CompileError   syntax or certain type errors, raised by ``compile``
 +-- EvalError      failures while running a compiled program

Both render like expr-lang: ``<message> (<line>:<col>)`` followed by the
source line and a caret line, so messages shown by the test endpoint look the
same as upstream's.
"""

from __future__ import annotations


class ExprError(Exception):
    """Root of the package's errors; carries a 1-based line and column."""

    def __init__(self, message: str, line: int = 0, column: int = 0, snippet: str = "") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.snippet = snippet
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if not self.snippet:
            return self.message
        return f"{self.message} ({self.line}:{self.column}){self.snippet}"

    @classmethod
    def at(cls, message: str, source: str, pos: int) -> ExprError:
        """Build the error for character offset ``pos`` of ``source``."""
        if pos < 0:
            return cls(message)
        pos = min(pos, len(source))
        start = source.rfind("\n", 0, pos) + 1
        line = source.count("\n", 0, pos) + 1
        col0 = pos - start
        end = source.find("\n", start)
        text = source[start:] if end < 0 else source[start:end]
        text = text.replace("\t", " ")
        snippet = "\n | " + text
        # Upstream drops the caret line when a multi-byte rune precedes the
        # caret, since dots would no longer line up.
        head = text[: col0 + 1]
        if head.isascii():
            snippet += "\n | " + "." * col0 + "^"
        return cls(message, line, col0 + 1, snippet)


class CompileError(ExprError):
    """The expression is rejected before it ever runs."""


class EvalError(ExprError):
    """The expression failed while evaluating against an environment."""


class Fail(Exception):
    """Internal runtime failure; ``pos`` is the source offset, -1 if unknown.

    Closures raise it cheaply; ``Program.run`` turns it into ``EvalError``.
    """

    __slots__ = ("message", "pos")

    def __init__(self, message: str, pos: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class ChainNil(Exception):
    """Raised by ``?.`` on nil; the enclosing chain turns it into nil."""
