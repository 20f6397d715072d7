"""JSON decoding the way Go's ``encoding/json`` fills an ``any``."""

from __future__ import annotations

import json
from typing import Any

import orjson


def decode_json(raw: bytes | bytearray | memoryview | str) -> Any:
    """Decode JSON with every number as a float64, like Go; raises ValueError."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson rejects integers beyond 64 bits (ledger amounts can be that
        # big) and invalid UTF-8 (Go substitutes U+FFFD); the stdlib parser
        # handles both, reading integers straight into floats.
        if isinstance(raw, memoryview):
            raw = raw.tobytes()
        if isinstance(raw, bytes | bytearray):
            raw = bytes(raw).decode("utf-8", "replace")
        return json.loads(raw, parse_int=float)
    return floats(value)


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
