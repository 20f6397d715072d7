"""RE2 patterns on Python's ``re`` (EXPR.md section 5.5, ``matches``).

Python's engine is close to RE2 for the patterns triggers use; this module
adjusts the differences that silently change results:

* ``$`` (without ``(?m)``) matches only at the very end in RE2, while Python
  also matches before a final newline: it becomes ``\\Z``.
* ``\\z`` (RE2 end of text) becomes ``\\Z``; ``\\Q...\\E`` is quoted.

Constructs RE2 rejects but Python accepts (backreferences, lookaround)
are rejected here too, so a pattern valid here is valid upstream.
ASCII POSIX classes (``[[:alpha:]]``) are expanded.  Unsupported RE2
features (``\\pL`` classes, ``(?U)``) fail to compile.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

_REJECT = re.compile(r"\\[1-9]|\(\?[=!<]|\(\?P=")
# RE2's ASCII POSIX classes, valid inside a bracket expression.
_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


@lru_cache(maxsize=1024)
def compile_re2(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern; raises ``re.error`` with a Go-like message."""
    if _REJECT.search(pattern.replace("\\\\", "")):
        raise re.error(f"error parsing regexp: invalid or unsupported Perl syntax: `{pattern}`")
    multiline = bool(re.match(r"\(\?[a-zA-Z]*m", pattern))
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q" and not in_class:
                end = pattern.find("\\E", i + 2)
                lit = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(lit))
                i = n if end < 0 else end + 2
                continue
            out.append("\\Z" if nxt == "z" and not in_class else pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                name = pattern[i + 2 : end] if end > 0 else ""
                negated = name.startswith("^")
                members = _POSIX.get(name.lstrip("^"))
                if members is not None and not negated:
                    out.append(members)
                    i = end + 2
                    continue
                raise re.error(f"error parsing regexp: invalid character class range: `{pattern}`")
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            # A `]` right after `[` or `[^` is a literal member.
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        elif ch == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(ch)
        i += 1
    try:
        with warnings.catch_warnings():
            # e.g. FutureWarning "possible nested set": RE2 has no such notion.
            warnings.simplefilter("ignore")
            return re.compile("".join(out))
    except re.error as exc:
        raise re.error(f"error parsing regexp: {exc.msg}: `{pattern}`") from None
