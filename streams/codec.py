"""JSON encoding for records: orjson's speed, the stdlib's exact big integers.

Ledger amounts and ids are arbitrary-size integers; orjson refuses anything
beyond 64 bits, so such values fall back to the (slower, exact) stdlib.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# orjson silently turns integers above 2**64 into floats. Such integers have
# at least 20 digits; a digit run that long sends the text to the stdlib
# (a regex scan costs a fraction of a microsecond on a typical event).
_LONG_DIGITS = re.compile(rb"\d{20}")


def loads(raw: bytes | str) -> Any:
    """Decode JSON keeping every integer exact; raises ValueError on bad JSON."""
    data = raw.encode() if isinstance(raw, str) else raw
    if _LONG_DIGITS.search(data):
        return json.loads(data)
    return orjson.loads(data)
