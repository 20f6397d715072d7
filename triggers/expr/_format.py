"""Go's text forms of values (EXPR.md section 1.1).

Two float printers share the shortest round-trip digits (Python's ``repr``
picks the same digits as Go's strconv) and differ only in when they switch
to exponent notation:

* JSON form (``encoding/json``): plain for 1e-6 <= |x| < 1e21, else ``1e+21``
  / ``1e-7`` (no zero padding of a negative exponent).
* ``%v`` form (``fmt``): plain for 1e-4 <= |x| < 1e6, else ``2.5e+06`` /
  ``1e-05`` (at least two exponent digits).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from ._errors import Fail
from ._time import Duration, format_duration, format_rfc3339, format_time
from ._types import ExactInts, LinkedMap


def _digits(x: float) -> tuple[str, int]:
    """Shortest digits of ``abs(x)`` and the decimal point position.

    The value is ``0.<digits> * 10**dp``; zero gives ``("", 0)``.
    """
    r = repr(abs(x))
    exp = 0
    if "e" in r:
        r, e = r.split("e")
        exp = int(e)
    head, _, frac = r.partition(".")
    digits = head + frac
    dp = len(head) + exp
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    return stripped.rstrip("0"), dp


def _plain(digits: str, dp: int) -> str:
    if not digits:
        return "0"
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _exponent(digits: str, dp: int, pad: bool) -> str:
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = dp - 1
    sign = "-" if exp < 0 else "+"
    text = str(abs(exp))
    if pad and len(text) < 2:
        text = "0" + text
    return f"{mant}e{sign}{text}"


def float_json(x: float) -> str:
    """Go ``encoding/json`` text of a float64; Inf/NaN cannot be encoded."""
    if math.isinf(x) or math.isnan(x):
        raise Fail(f"json: unsupported value: {float_v(x)}")
    if x == int(x) and abs(x) < 1e16:
        return str(int(x)) if x or math.copysign(1.0, x) > 0 else "-0"
    sign = "-" if x < 0 else ""
    digits, dp = _digits(x)
    ax = abs(x)
    if ax < 1e-6 or ax >= 1e21:
        return sign + _exponent(digits, dp, pad=False)
    return sign + _plain(digits, dp)


def float_v(x: float) -> str:
    """Go ``fmt`` ``%v`` text of a float64."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x)) if x or math.copysign(1.0, x) > 0 else "-0"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    digits, dp = _digits(x)
    exp = dp - 1
    if exp < -4 or exp >= 6:
        return sign + _exponent(digits, dp, pad=True)
    return sign + _plain(digits, dp)


def format_v(v: Any, top: bool = True, exact: ExactInts | None = None) -> str:
    """Go ``fmt.Sprint`` of a decoded JSON value (``exact``: see ``_decode``)."""
    t = type(v)
    if t is str:
        return str(v)
    if t is float:
        if exact:
            n = exact.get(id(v))
            if n is not None and float(n) == v:
                return str(n)
        return float_v(v)
    if v is None:
        return "<nil>"
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is list:
        return "[" + " ".join(format_v(x, False, exact) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v) if all(type(k) is str for k in v) else sorted(v, key=_key_order)
        body = " ".join(f"{format_v(k, False)}:{format_v(v[k], False, exact)}" for k in keys)
        # A pointer to a map prints `&map[...]`; nested pointers would print
        # as hex addresses in Go, which cannot be reproduced.
        prefix = "&" if t is LinkedMap else ""
        return f"{prefix}map[{body}]"
    if t is datetime:
        return format_time(v)
    if t is Duration:
        return format_duration(v)
    return str(v)  # also Month / Weekday names, zones


def _key_order(k: Any) -> tuple[int, Any]:
    """fmt's map key order for groupBy results: nil, bools, numbers, strings."""
    t = type(k)
    if k is None:
        return (0, 0)
    if t is bool:
        return (1, int(k))
    if t is int or t is float:
        return (2, k)
    return (3, str(k))


def format_var(v: Any, exact: ExactInts | None = None) -> str:
    """The string a trigger var becomes: floats in JSON form, rest ``%v``.

    A float decoded from an integer beyond 2^53 prints that integer when
    ``exact`` (from ``decode_json``) knows it, here and inside lists and maps.
    """
    if type(v) is float:
        if exact:
            n = exact.get(id(v))
            if n is not None and float(n) == v:
                return str(n)
        return float_json(v)
    return format_v(v, True, exact)


_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        esc = _JSON_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def to_json(v: Any, indent: str = "") -> str:
    """``json.MarshalIndent(v, "", "  ")`` with Go's sorting and escaping."""
    t = type(v)
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return float_json(v)
    if t is str:
        return json_string(v)
    inner = indent + "  "
    if t is list:
        if not v:
            return "[]"
        items = [inner + to_json(x, inner) for x in v]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [f"{inner}{json_string(k)}: {to_json(v[k], inner)}" for k in sorted(v)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if t is datetime:
        return json_string(format_rfc3339(v))
    if isinstance(v, int):  # Duration, Month, Weekday encode as numbers
        return str(int(v))
    raise Fail(f"json: unsupported type: {t.__name__}")
