"""String builtins: Go ``strings`` semantics on Python text (EXPR.md section 8)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ._convert import as_str, to_int
from ._decode import decode_json
from ._errors import Fail
from ._values import go_type


def _trim(s: Any, cutset: Any = None) -> str:
    if cutset is None:
        return as_str(s).strip()
    return as_str(s).strip(as_str(cutset))


def _trim_prefix(s: Any, prefix: Any = " ") -> str:
    return as_str(s).removeprefix(as_str(prefix))


def _trim_suffix(s: Any, suffix: Any = " ") -> str:
    return as_str(s).removesuffix(as_str(suffix))


def _upper(s: Any) -> str:
    text = as_str(s)
    out = text.upper()
    if len(out) == len(text):
        return out
    # Python applies full case mappings (ß -> SS); Go maps rune by rune.
    return "".join(c if len(u := c.upper()) != 1 else u for c in text)


def _lower(s: Any) -> str:
    text = as_str(s)
    out = text.lower()
    if len(out) == len(text):
        return out
    return "".join(c if len(lc := c.lower()) != 1 else lc for c in text)


def _split_n(s: str, sep: str, n: int, after: bool) -> list[str]:
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            chars = [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    parts = s.split(sep, n - 1) if n > 0 else s.split(sep)
    if after:
        parts = [p + sep for p in parts[:-1]] + parts[-1:]
    return parts


def _split(s: Any, sep: Any, n: Any = -1) -> list[Any]:
    return list(_split_n(as_str(s), as_str(sep), to_int(n), False))


def _split_after(s: Any, sep: Any, n: Any = -1) -> list[Any]:
    return list(_split_n(as_str(s), as_str(sep), to_int(n), True))


def _replace(s: Any, old: Any, new: Any, n: Any = -1) -> str:
    return as_str(s).replace(as_str(old), as_str(new), to_int(n))


def _repeat(s: Any, n: Any) -> str:
    count = to_int(n)
    if count < 0:
        raise Fail(f"invalid argument for repeat (expected positive integer, got {count})")
    if count > 1_000_000:
        raise Fail("memory budget exceeded")
    return as_str(s) * count


def _join(items: Any, glue: Any = "") -> str:
    if type(items) is not list:
        raise Fail(f"invalid argument for join (type {go_type(items)})")
    return as_str(glue).join(as_str(x) for x in items)


def _index_of(s: Any, sub: Any) -> int:
    return as_str(s).encode().find(as_str(sub).encode())


def _last_index_of(s: Any, sub: Any) -> int:
    return as_str(s).encode().rfind(as_str(sub).encode())


def _has_prefix(s: Any, p: Any) -> bool:
    return as_str(s).startswith(as_str(p))


def _has_suffix(s: Any, p: Any) -> bool:
    return as_str(s).endswith(as_str(p))


def from_json(s: Any) -> Any:
    try:
        return decode_json(as_str(s))
    except ValueError as exc:
        raise Fail(str(exc)) from None


def _to_base64(s: Any) -> str:
    return base64.b64encode(as_str(s).encode()).decode()


def _from_base64(s: Any) -> str:
    try:
        return base64.b64decode(as_str(s), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as exc:
        raise Fail(f"illegal base64 data: {exc}") from None
