"""Tokenizer for expr-lang source text (EXPR.md section 2)."""

from __future__ import annotations

from typing import Final

from ._errors import CompileError

IDENT: Final = "ident"
NUMBER: Final = "number"
STRING: Final = "string"
OP: Final = "op"
BRACKET: Final = "bracket"
EOF: Final = "eof"

_WORD_OPS: Final = frozenset(
    {"not", "in", "or", "and", "matches", "contains", "startsWith", "endsWith", "let", "if", "else"}
)
_SIMPLE_ESCAPES: Final = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "?": "?",
}
_HEX: Final = frozenset("0123456789abcdefABCDEF")


class Token:
    __slots__ = ("kind", "pos", "value")

    def __init__(self, kind: str, value: str, pos: int) -> None:
        self.kind = kind
        self.value = value
        self.pos = pos

    def is_(self, kind: str, value: str | None = None) -> bool:
        return self.kind == kind and (value is None or self.value == value)

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.value!r}, {self.pos})"


def _is_alnum(ch: str) -> bool:
    # Go's unicode.IsLetter / IsDigit (Nd only, hence isdecimal).
    return ch.isalpha() or ch.isdecimal() or ch == "_" or ch == "$"


def tokenize(src: str) -> list[Token]:
    toks: list[Token] = []
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        if ch == "'" or ch == '"':
            i, text = _scan_string(src, i)
            toks.append(Token(STRING, text, start))
            continue
        if ch == "`":
            end = src.find("`", i + 1)
            if end < 0:
                raise CompileError.at("literal not terminated", src, start)
            toks.append(Token(STRING, src[i + 1 : end], start))
            i = end + 1
            continue
        if ch.isdigit() and ch.isascii():
            i = _scan_number(src, i)
            toks.append(Token(NUMBER, src[start:i], start))
            continue
        if ch == "." and i + 1 < n and src[i + 1] in "0123456789":
            i = _scan_number(src, i)
            toks.append(Token(NUMBER, src[start:i], start))
            continue
        if ch == "/" and src.startswith("//", i):
            end = src.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if ch == "/" and src.startswith("/*", i):
            end = src.find("*/", i + 2)
            if end < 0:
                raise CompileError.at("unclosed comment", src, start)
            i = end + 2
            continue
        if ch == "#":
            toks.append(Token(OP, "#", start))
            i += 1
            j = i
            while j < n and _is_alnum(src[j]):
                j += 1
            if j > i:
                toks.append(Token(IDENT, src[i:j], i))
                i = j
            continue
        if ch in "([{)]}":
            toks.append(Token(BRACKET, ch, start))
            i += 1
            continue
        two = src[i : i + 2]
        if two in ("?.", "??", "||", "::", "&&", "!=", "==", "**", "<=", ">=", ".."):
            toks.append(Token(OP, two, start))
            i += 2
            continue
        if ch in "?|:,;%+-^&!=*<>/.":
            toks.append(Token(OP, ch, start))
            i += 1
            continue
        if _is_alnum(ch):
            j = i + 1
            while j < n and _is_alnum(src[j]):
                j += 1
            word = src[i:j]
            toks.append(Token(OP if word in _WORD_OPS else IDENT, word, start))
            i = j
            continue
        raise CompileError.at(f"unrecognized character: U+{ord(ch):04X} '{ch}'", src, start)
    toks.append(Token(EOF, "", n))
    return toks


def _scan_number(src: str, i: int) -> int:
    n = len(src)
    start = i
    digits = "0123456789_"
    if src[i] == "0" and i + 1 < n:
        nxt = src[i + 1]
        if nxt in "xX":
            digits, i = "0123456789abcdefABCDEF_", i + 2
        elif nxt in "oO":
            digits, i = "01234567_", i + 2
        elif nxt in "bB":
            digits, i = "01_", i + 2
    while i < n and src[i] in digits:
        i += 1
    if i < n and src[i] == ".":
        if i + 1 < n and src[i + 1] == ".":
            return i  # `1..3` is a range, not the float `1.`
        i += 1
        while i < n and src[i] in digits:
            i += 1
    if i < n and src[i] in "eE" and digits == "0123456789_":
        i += 1
        if i < n and src[i] in "+-":
            i += 1
        while i < n and src[i] in digits:
            i += 1
    if i < n and _is_alnum(src[i]):
        raise CompileError.at(f'bad number syntax: "{src[start : i + 1]}"', src, start)
    return i


def _scan_string(src: str, i: int) -> tuple[int, str]:
    quote = src[i]
    start = i
    i += 1
    n = len(src)
    out: list[str] = []
    while True:
        if i >= n or src[i] == "\n":
            raise CompileError.at("literal not terminated", src, start)
        ch = src[i]
        if ch == quote:
            return i + 1, "".join(out)
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i >= n:
            raise CompileError.at("literal not terminated", src, start)
        esc = src[i]
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 1
        elif esc in "xuU":
            i = _hex_escape(src, i, start, out)
        elif esc in "0123":
            oct_digits = src[i : i + 3]
            if len(oct_digits) != 3 or any(c not in "01234567" for c in oct_digits):
                raise CompileError.at("invalid char escape", src, start)
            out.append(chr(int(oct_digits, 8)))
            i += 3
        else:
            raise CompileError.at("invalid char escape", src, start)


def _hex_escape(src: str, i: int, start: int, out: list[str]) -> int:
    esc = src[i]
    i += 1
    if esc == "u" and i < len(src) and src[i] == "{":
        end = src.find("}", i)
        digits = src[i + 1 : end] if end > 0 else ""
        if not 1 <= len(digits) <= 6 or any(c not in _HEX for c in digits):
            raise CompileError.at("invalid char escape", src, start)
        i = end + 1
    else:
        width = {"x": 2, "u": 4, "U": 8}[esc]
        digits = src[i : i + width]
        if len(digits) != width or any(c not in _HEX for c in digits):
            raise CompileError.at("invalid char escape", src, start)
        i += width
    code = int(digits, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise CompileError.at("escape sequence is invalid Unicode code point", src, start)
    out.append(chr(code))
    return i
