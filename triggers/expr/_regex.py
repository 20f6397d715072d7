"""``matches`` patterns on Google's RE2, the engine Go's ``regexp`` ports.

RE2 runs in time linear in the text (no backtracking), so a pattern such as
``^(a+)+$`` costs microseconds where a backtracking engine takes seconds on
26 characters.  Its syntax is Go's: ``$`` is end of text unless ``(?m)``,
``\\z``, ``\\Q...\\E``, POSIX classes, ``\\pL``/``\\p{Greek}`` and ``(?U)``
work; backreferences and lookaround are rejected.  The one construct C++
RE2 accepts and Go rejects, ``\\C`` (any byte), is rejected here.

Compiling is linear in the pattern too, and patterns are capped at
``MAX_PATTERN_BYTES``, so a constant pattern compiled when a trigger is
created, or one read from event data, costs little.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import re2

# Go's own parser has no length limit, but a trigger filter is a few hundred
# bytes: 4 KiB leaves room for long alternations while bounding what a
# pattern read from event data can cost to compile and to keep in the cache.
MAX_PATTERN_BYTES: Final = 4096

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are raised, not also printed to stderr


class PatternError(ValueError):
    """The pattern is not a valid Go (RE2) regular expression; ``str`` is Go's message."""


# 256 distinct patterns from data: RE2 objects are a few KiB each.
@lru_cache(maxsize=256)
def compile_re2(pattern: str) -> re2._Regexp[str]:
    """Compile a Go regexp; raises PatternError with a Go-like message."""
    size = len(pattern.encode("utf-8", "surrogatepass"))
    if size > MAX_PATTERN_BYTES:
        raise PatternError(
            f"error parsing regexp: pattern too long: {size} bytes (limit {MAX_PATTERN_BYTES})"
        )
    _reject_any_byte(pattern)
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        raise PatternError(_go_message(exc, pattern)) from None
    except UnicodeError:
        # A lone surrogate cannot be UTF-8; Go sees U+FFFD there.
        return compile_re2(_valid_text(pattern))


def _reject_any_byte(pattern: str) -> None:
    i = pattern.find("\\")
    while 0 <= i < len(pattern) - 1:
        if pattern[i + 1] == "C":
            raise PatternError("error parsing regexp: invalid escape sequence: `\\C`")
        i = pattern.find("\\", i + 2)


def _go_message(exc: re2.error, pattern: str) -> str:
    """RE2 says ``invalid escape sequence: \\1``; Go quotes the culprit in backticks."""
    raw = exc.args[0] if exc.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    reason, sep, culprit = text.partition(": ")
    if not sep:
        return f"error parsing regexp: {text}: `{pattern}`"
    return f"error parsing regexp: {reason}: `{culprit}`"


def _valid_text(s: str) -> str:
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s)


def search(rx: re2._Regexp[str], text: str) -> bool:
    """Whether ``rx`` matches anywhere in ``text`` (Go ``MatchString``)."""
    try:
        return rx.search(text) is not None
    except UnicodeError:
        return rx.search(_valid_text(text)) is not None
