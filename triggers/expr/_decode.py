"""JSON decoding the way Go's ``encoding/json`` fills an ``any``.

Go reads every number as a float64, so an amount above 2^53 loses digits
before any expression sees it. The floats stay (filters compare and compute
exactly as upstream), but the caller may pass an ``ExactInts`` table: it maps
``id()`` of each float that came from such an integer to the integer, so a var
that yields the field unchanged prints every digit (BEHAVIOUR.md 9.4 [CHOICE]).
The table is only valid while the decoded document is alive (it keeps the
floats, hence their ids, from being reused).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from streams.codec import check_depth, has_digit_run

from ._types import ExactInts

# Beyond 2^53 a float64 no longer holds every integer; such integers have at
# least 16 digits, so only a document with a run that long needs the table
# (orjson itself floats integers beyond 64 bits, losing them).
_EXACT_LIMIT = 2**53
_LONG_RUN = 16


def decode_json(raw: bytes | bytearray | memoryview | str, exact: ExactInts | None = None) -> Any:
    """Decode JSON with every number as a float64, like Go; raises ValueError.

    Nesting is bounded as in ``streams.codec`` (a ``DecodeError``, a
    ValueError), before any recursive parser or walk could overflow.
    """
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    check_depth(data)
    if exact is not None and has_digit_run(data, _LONG_RUN):
        return json.loads(data.decode("utf-8", "replace"), parse_int=_recording(exact))
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson rejects invalid UTF-8 (Go substitutes U+FFFD); the stdlib
        # parser takes it, reading integers straight into floats.
        return json.loads(data.decode("utf-8", "replace"), parse_int=float)
    return floats(value)


def _recording(exact: ExactInts) -> Any:
    def parse_int(text: str) -> float:
        f = float(text)  # inf beyond 1e308, as Go's decoder saturates
        # 4,300 digits is CPython's int-from-text limit: such a number is
        # kept as a float only.
        if 16 <= len(text) <= 4300:
            n = int(text)
            if not -_EXACT_LIMIT <= n <= _EXACT_LIMIT:
                exact[id(f)] = n
        return f

    return parse_int


def floats(v: Any) -> Any:
    """Turn every int of a decoded document into a float, in place."""
    t = type(v)
    if t is int:
        return float(v)
    if t is dict:
        for k, x in v.items():
            tx = type(x)
            if tx is int:
                v[k] = float(x)
            elif tx is dict or tx is list:
                floats(x)
    elif t is list:
        for i, x in enumerate(v):
            tx = type(x)
            if tx is int:
                v[i] = float(x)
            elif tx is dict or tx is list:
                floats(x)
    return v
