"""Runtime semantics of values: Go type names, equality, ordering, arithmetic,
member access and slicing (EXPR.md sections 5 and 6).

Values are plain Python objects: None (nil), bool, int (kept within int64),
float, str, list, dict.  ``bool`` is a subclass of ``int`` in Python, so every
check here uses ``type(x) is ...`` rather than ``isinstance``.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from typing import Any, Final

from ._errors import Fail
from ._format import format_v
from ._time import NAMED_INTS, NOT_TIME, Duration, time_arith
from ._types import INT_MAX, INT_MIN, LinkedMap

_MASK: Final = 2**64


def wrap(n: int) -> int:
    """Two's-complement int64 wrap-around, as Go integer arithmetic does."""
    if INT_MIN <= n <= INT_MAX:
        return n
    n %= _MASK
    return n - _MASK if n > INT_MAX else n


def go_type(v: Any) -> str:
    t = type(v)
    if v is None:
        return "<nil>"
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float64"
    if t is str:
        return "string"
    if t is list:
        return "[]interface {}"
    if t is LinkedMap:
        return "*map[string]interface {}"
    if t is datetime:
        return "time.Time"
    if t is Duration:
        return "time.Duration"
    if isinstance(v, tzinfo):
        return "*time.Location"
    if t in NAMED_INTS:
        return NAMED_INTS[t]
    if isinstance(v, dict):
        return "map[string]interface {}"
    return t.__name__


def is_num(v: Any) -> bool:
    t = type(v)
    return t is float or t is int


def equal(a: Any, b: Any) -> bool:
    """``==``: numbers across int/float, lists element-wise, maps type-strict."""
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is list:
            if len(a) != len(b):
                return False
            return all(equal(x, y) for x, y in zip(a, b, strict=True))
        if ta is dict:
            return deep_equal(a, b)
        if ta is LinkedMap:
            return a is b
        return bool(a == b)
    if (ta is int and tb is float) or (ta is float and tb is int):
        return float(a) == float(b)
    return False


def deep_equal(a: Any, b: Any) -> bool:
    """Go reflect.DeepEqual on decoded JSON: kinds must match exactly."""
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        return all(k in b and deep_equal(v, b[k]) for k, v in a.items())
    return bool(a == b)


def less(a: Any, b: Any, op: str, pos: int) -> bool:
    """Ordering operators on numbers or strings; anything else fails."""
    ta = type(a)
    tb = type(b)
    if (ta is float or ta is int) and (tb is float or tb is int):
        pass
    elif ta is str and tb is str:
        # Code-point order equals Go's byte order of UTF-8 text.
        pass
    elif ta is tb and (ta is datetime or ta is Duration):
        pass
    else:
        raise Fail(f"invalid operation: {go_type(a)} {op} {go_type(b)}", pos)
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


def arith(op: str, a: Any, b: Any, pos: int) -> Any:
    ta = type(a)
    tb = type(b)
    if ta is int and tb is int:
        if op == "+":
            return wrap(a + b)
        if op == "-":
            return wrap(a - b)
        if op == "*":
            return wrap(a * b)
        if op == "/":
            return divide(float(a), float(b))
        if op == "%":
            if b == 0:
                raise Fail("runtime error: integer divide by zero", pos)
            return wrap(_go_rem(a, b))
        return power(float(a), float(b))
    if (ta is float or ta is int) and (tb is float or tb is int):
        if op == "+":
            return float(a) + float(b)
        if op == "-":
            return float(a) - float(b)
        if op == "*":
            return float(a) * float(b)
        if op == "/":
            return divide(float(a), float(b))
        if op == "%":
            raise Fail(f"invalid operation: {go_type(a)} % {go_type(b)}", pos)
        return power(float(a), float(b))
    if op == "+" and ta is str and tb is str:
        return a + b
    result = time_arith(op, a, b)
    if result is not NOT_TIME:
        return result
    raise Fail(f"invalid operation: {go_type(a)} {op} {go_type(b)}", pos)


def _go_rem(a: int, b: int) -> int:
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def divide(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def power(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        # Go's math.Pow returns ±Inf instead of raising.
        if a < 0 and b == int(b) and int(b) % 2 == 1:
            return -math.inf
        return math.inf
    except ValueError:
        if a == 0.0:
            return math.inf  # 0 ** negative
        return math.nan


def negate(v: Any, pos: int) -> Any:
    t = type(v)
    if t is float:
        return -v
    if t is int:
        return wrap(-v)
    raise Fail(f"invalid operation: - {go_type(v)}", pos)


def plus(v: Any, pos: int) -> Any:
    if is_num(v):
        return v
    raise Fail(f"invalid operation: + {go_type(v)}", pos)


def to_index(v: Any) -> int | None:
    t = type(v)
    if t is int:
        return int(v)
    if t is float:
        if math.isnan(v) or math.isinf(v):
            return INT_MIN
        return int(v)
    return None


def fetch(obj: Any, key: Any, pos: int) -> Any:
    """``obj[key]`` / ``obj.key`` with Go semantics: missing map key is nil."""
    if isinstance(obj, dict):
        if type(key) is str:
            return obj.get(key)
        raise Fail(f"cannot fetch {fmt_key(key)} from {go_type(obj)}", pos)
    t = type(obj)
    if t is list or t is str:
        i = to_index(key)
        if i is None:
            raise Fail(f"cannot fetch {fmt_key(key)} from {go_type(obj)}", pos)
        seq: Any = obj.encode() if t is str else obj
        n = len(seq)
        j = i + n if i < 0 else i
        if j < 0 or j >= n:
            raise Fail(f"index out of range: {j} (array length is {n})", pos)
        return seq[j]
    raise Fail(f"cannot fetch {fmt_key(key)} from {go_type(obj)}", pos)


def fmt_key(key: Any) -> str:
    return format_v(key)


def slice_of(obj: Any, lo: Any, hi: Any, pos: int) -> Any:
    t = type(obj)
    if t is not list and t is not str:
        raise Fail(f"cannot slice {go_type(obj)}", pos)
    seq: Any = obj.encode() if t is str else obj
    n = len(seq)
    a = 0 if lo is None else to_index(lo)
    b = n if hi is None else to_index(hi)
    if a is None or b is None:
        raise Fail("invalid slice index", pos)
    if a < 0:
        a = max(n + a, 0)
    if b < 0:
        b = max(n + b, 0)
    b = min(b, n)
    a = min(a, b)
    if t is str:
        # Byte offsets may split a rune; Go keeps raw bytes, we substitute U+FFFD.
        return seq[a:b].decode("utf-8", "replace")
    return seq[a:b]


def contains_in(needle: Any, hay: Any, pos: int) -> bool:
    """``needle in hay``."""
    t = type(hay)
    if t is list:
        return any(equal(needle, item) for item in hay)
    if isinstance(hay, dict):
        if type(needle) is str:
            return needle in hay
        if needle is None:
            return "" in hay  # Go looks nil up as the key type's zero value
        raise Fail(
            f"reflect.Value.MapIndex: value of type {go_type(needle)}"
            " is not assignable to type string",
            pos,
        )
    if hay is None:
        return False
    raise Fail(f'operator "in" not defined on {go_type(hay)}', pos)


def expect_bool(v: Any, pos: int) -> bool:
    if v is True or v is False:
        return bool(v)
    raise Fail(f"interface conversion: interface {{}} is {_iface(v)}, not bool", pos)


def _iface(v: Any) -> str:
    return "nil" if v is None else go_type(v)
