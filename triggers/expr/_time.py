"""Dates and durations: ``now date duration timezone`` (EXPR.md section 8).

Go's ``time.Time`` maps to an aware ``datetime`` (microsecond precision, Go
keeps nanoseconds) and ``time.Duration`` to ``Duration``, an ``int`` of
nanoseconds with its own type so it never mixes with plain integers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._errors import Fail

_NS: Final = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000}
_NS.update({"s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9})
_DURATION_PART: Final = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)")


class Duration(int):
    """Go ``time.Duration``: nanoseconds."""

    def __repr__(self) -> str:
        return f"Duration({format_duration(self)})"


class Month(int):
    """Go ``time.Month``: prints as its English name, equals only a Month."""

    def __str__(self) -> str:
        return _MONTHS[self - 1].capitalize()


class Weekday(int):
    """Go ``time.Weekday`` (Sunday = 0): prints as its English name."""

    def __str__(self) -> str:
        return ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")[self]


NAMED_INTS: Final = {Month: "time.Month", Weekday: "time.Weekday"}


def parse_duration(text: Any) -> Duration:
    if type(text) is not str:
        raise Fail(f"interface conversion: interface {{}} is {type(text).__name__}, not string")
    s = text
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-") if s[:1] in "+-" else s
    if s == "0":
        return Duration(0)
    total = 0.0
    pos = 0
    if not s:
        raise Fail(f'time: invalid duration "{text}"')
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None or m.group(1) in ("", "."):
            raise Fail(f'time: invalid duration "{text}"')
        unit = _NS.get(m.group(2))
        if unit is None:
            raise Fail(f'time: unknown unit "{m.group(2)}" in duration "{text}"')
        total += float(m.group(1)) * unit
        pos = m.end()
    if total >= 2**63:
        raise Fail(f'time: invalid duration "{text}"')
    return Duration(sign * round(total))


def format_duration(d: int) -> str:
    """Go ``Duration.String``: ``1h30m0s``, ``1.5s``, ``300ms``, ``0s``."""
    if d == 0:
        return "0s"
    sign = "-" if d < 0 else ""
    n = abs(d)
    if n < 10**9:
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if n >= size:
                return sign + _frac(n, size) + unit
    hours, rest = divmod(n, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    out = _frac(rest, 10**9) + "s"
    if hours or minutes:
        out = f"{minutes}m" + out
    if hours:
        out = f"{hours}h" + out
    return sign + out


def _frac(n: int, size: int) -> str:
    whole, rest = divmod(n, size)
    if not rest:
        return str(whole)
    digits = str(rest).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _zone_name(t: datetime) -> str:
    tz = t.tzinfo
    if tz is UTC or (isinstance(tz, timezone) and t.utcoffset() == timedelta(0)):
        return "UTC"
    if isinstance(tz, ZoneInfo):
        return t.tzname() or _offset(t, False)
    return _offset(t, False)


def _offset(t: datetime, colon: bool) -> str:
    off = t.utcoffset() or timedelta(0)
    minutes = int(off.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    return f"{sign}{hh:02d}:{mm:02d}" if colon else f"{sign}{hh:02d}{mm:02d}"


def format_time(t: datetime) -> str:
    """Go ``Time.String``: ``2006-01-02 15:04:05.999999999 -0700 MST``."""
    frac = f".{t.microsecond:06d}".rstrip("0").rstrip(".") if t.microsecond else ""
    return f"{t:%Y-%m-%d %H:%M:%S}{frac} {_offset(t, False)} {_zone_name(t)}"


def format_rfc3339(t: datetime) -> str:
    """RFC 3339 with nanoseconds trimmed, as Go's JSON encoding of a time."""
    frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    zone = "Z" if t.utcoffset() == timedelta(0) else _offset(t, True)
    return f"{t:%Y-%m-%dT%H:%M:%S}{frac}{zone}"


def load_zone(name: Any) -> tzinfo:
    if type(name) is not str:
        raise Fail("interface conversion: interface {} is not string")
    if name in ("UTC", ""):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Fail(f"unknown time zone {name}") from None


def now(*args: Any) -> datetime:
    if not args:
        return datetime.now().astimezone()
    if len(args) == 1 and isinstance(args[0], tzinfo):
        return datetime.now(args[0])
    raise Fail(f"invalid number of arguments (expected 0, got {len(args)})")


# Go reference-time layout elements, longest first, mapped to regex groups.
_ELEMENTS: Final[list[tuple[str, str]]] = [
    ("January", r"(?P<month_name>[A-Za-z]+)"),
    ("Monday", r"(?:[A-Za-z]+)"),
    ("Z07:00", r"(?P<zone>Z|[+-]\d\d:\d\d)"),
    ("-07:00", r"(?P<zone>[+-]\d\d:\d\d)"),
    ("Z0700", r"(?P<zone>Z|[+-]\d{4})"),
    ("-0700", r"(?P<zone>[+-]\d{4})"),
    ("2006", r"(?P<year>\d{4})"),
    ("Jan", r"(?P<mon_abbr>[A-Za-z]{3})"),
    ("Mon", r"(?:[A-Za-z]{3})"),
    ("MST", r"(?P<abbr>[A-Z]{3,4}|[+-]\d+)"),
    ("-07", r"(?P<zone>[+-]\d\d)"),
    ("002", r"(?P<yday>\d{3})"),
    ("_2", r" ?(?P<day>\d{1,2})"),
    ("01", r"(?P<month>\d\d)"),
    ("02", r"(?P<day>\d\d)"),
    ("03", r"(?P<hour12>\d\d)"),
    ("04", r"(?P<minute>\d\d)"),
    ("05", r"(?P<second>\d\d)"),
    ("06", r"(?P<year2>\d\d)"),
    ("15", r"(?P<hour>\d\d?)"),
    ("PM", r"(?P<ampm>AM|PM)"),
    ("pm", r"(?P<ampm>am|pm)"),
    ("1", r"(?P<month>\d\d?)"),
    ("2", r"(?P<day>\d\d?)"),
    ("3", r"(?P<hour12>\d\d?)"),
    ("4", r"(?P<minute>\d\d?)"),
    ("5", r"(?P<second>\d\d?)"),
]
_FRACTION: Final = re.compile(r"[.,](0+|9+)")
_MONTHS: Final = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]  # fmt: skip
_DEFAULT_LAYOUTS: Final = [
    "2006-01-02",
    "2006-01-02 15:04:05",
    "2006-01-02T15:04:05Z07:00",
    "02 Jan 06 15:04 MST",
    "Monday, 02-Jan-06 15:04:05 MST",
    "Mon, 02 Jan 2006 15:04:05 MST",
]


def _layout_regex(layout: str) -> re.Pattern[str]:
    out: list[str] = []
    used: set[str] = set()
    i = 0
    while i < len(layout):
        frac = _FRACTION.match(layout, i)
        if frac and not layout[frac.end() : frac.end() + 1].isdigit():
            digits = len(frac.group(1))
            exact = frac.group(1)[0] == "0"
            count = f"{{{digits}}}" if exact else f"{{1,{digits}}}"
            out.append(rf"(?:[.,](?P<frac>\d{count}))" + ("" if exact else "?"))
            i = frac.end()
            continue
        for element, pattern in _ELEMENTS:
            if layout.startswith(element, i):
                name = re.search(r"\?P<(\w+)>", pattern)
                if name and name.group(1) in used:
                    pattern = re.sub(r"\?P<\w+>", "?:", pattern)
                elif name:
                    used.add(name.group(1))
                out.append(pattern)
                i += len(element)
                break
        else:
            out.append(re.escape(layout[i]))
            i += 1
    # Go accepts fractional seconds after seconds even if the layout has none.
    text = "".join(out)
    if "frac" not in used and "(?P<second>" in text and "(?P<frac>" not in text:
        text = text.replace(r"(?P<second>\d\d)", r"(?P<second>\d\d)(?:[.,](?P<frac>\d+))?", 1)
    return re.compile(text)


def parse_time(value: str, layout: str, zone: tzinfo | None) -> datetime | None:
    m = _layout_regex(layout).fullmatch(value)
    if m is None:
        return None
    g = {k: v for k, v in m.groupdict().items() if v is not None}
    try:
        year = int(g["year"]) if "year" in g else 0
        if "year2" in g:
            y2 = int(g["year2"])
            year = y2 + (1900 if y2 >= 69 else 2000)
        month = 1
        if "month" in g:
            month = int(g["month"])
        elif "month_name" in g or "mon_abbr" in g:
            word = (g.get("month_name") or g["mon_abbr"]).lower()
            month = next(i + 1 for i, n in enumerate(_MONTHS) if n.startswith(word[:3]))
        day = int(g.get("day", 1))
        hour = int(g.get("hour", 0))
        if "hour12" in g:
            hour = int(g["hour12"]) % 12 + (12 if g.get("ampm", "").lower() == "pm" else 0)
        micro = int((g.get("frac", "") + "000000")[:6])
        tz: tzinfo = zone or UTC
        if "zone" in g and g["zone"] != "Z":
            z = g["zone"].replace(":", "")
            minutes = int(z[1:3]) * 60 + int(z[3:5] or 0)
            tz = timezone(timedelta(minutes=-minutes if z[0] == "-" else minutes))
        base = datetime(max(year, 1), month, day, hour, int(g.get("minute", 0)),
                        int(g.get("second", 0)), micro, tzinfo=tz)  # fmt: skip
        if "yday" in g:
            base = base.replace(month=1, day=1) + timedelta(days=int(g["yday"]) - 1)
        return base
    except (ValueError, StopIteration, OverflowError):
        return None


def make_date(*args: Any) -> datetime:
    zone: tzinfo | None = None
    if args and isinstance(args[0], tzinfo):
        zone, args = args[0], args[1:]
    if not 1 <= len(args) <= 3:
        raise Fail(f"invalid number of arguments (expected 1 to 3, got {len(args)})")
    if any(type(a) is not str for a in args):
        bad = next(a for a in args if type(a) is not str)
        raise Fail(f"interface conversion: interface {{}} is {type(bad).__name__}, not string")
    value = args[0]
    if len(args) == 3:
        zone = load_zone(args[2])
    layouts = [args[1]] if len(args) > 1 else _DEFAULT_LAYOUTS
    for layout in layouts:
        t = parse_time(value, layout, zone)
        if t is not None:
            return t
    if len(args) > 1:
        raise Fail(f'parsing time "{value}" as "{args[1]}": cannot parse')
    raise Fail(f"invalid date {value}")


def format_layout(t: datetime, layout: str) -> str:
    """Go ``Time.Format`` for the common layout elements."""
    values: dict[str, Callable[[datetime], str]] = {
        "January": lambda d: f"{d:%B}",
        "Monday": lambda d: f"{d:%A}",
        "Z07:00": lambda d: "Z" if d.utcoffset() == timedelta(0) else _offset(d, True),
        "-07:00": lambda d: _offset(d, True),
        "Z0700": lambda d: "Z" if d.utcoffset() == timedelta(0) else _offset(d, False),
        "-0700": lambda d: _offset(d, False),
        "2006": lambda d: f"{d.year:04d}",
        "Jan": lambda d: f"{d:%b}",
        "Mon": lambda d: f"{d:%a}",
        "MST": _zone_name,
        "-07": lambda d: _offset(d, False)[:3],
        "002": lambda d: f"{d.timetuple().tm_yday:03d}",
        "_2": lambda d: f"{d.day:2d}",
        "01": lambda d: f"{d.month:02d}",
        "02": lambda d: f"{d.day:02d}",
        "03": lambda d: f"{(d.hour % 12) or 12:02d}",
        "04": lambda d: f"{d.minute:02d}",
        "05": lambda d: f"{d.second:02d}",
        "06": lambda d: f"{d.year % 100:02d}",
        "15": lambda d: f"{d.hour:02d}",
        "PM": lambda d: "PM" if d.hour >= 12 else "AM",
        "pm": lambda d: "pm" if d.hour >= 12 else "am",
        "1": lambda d: str(d.month),
        "2": lambda d: str(d.day),
        "3": lambda d: str((d.hour % 12) or 12),
        "4": lambda d: str(d.minute),
        "5": lambda d: str(d.second),
    }
    out: list[str] = []
    i = 0
    while i < len(layout):
        frac = _FRACTION.match(layout, i)
        if frac and not layout[frac.end() : frac.end() + 1].isdigit():
            digits = f"{t.microsecond:06d}000"[: len(frac.group(1))]
            if frac.group(1)[0] == "9":
                digits = digits.rstrip("0")
            out.append(layout[i] + digits if digits else "")
            i = frac.end()
            continue
        for element, _ in _ELEMENTS:
            if layout.startswith(element, i):
                out.append(values[element](t))
                i += len(element)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


def _unix_ns(t: datetime) -> int:
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def _as_duration(v: Any) -> Duration:
    if type(v) is Duration:
        return v
    raise Fail(f"cannot use {type(v).__name__} as time.Duration")


def _as_time(v: Any) -> datetime:
    if type(v) is datetime:
        return v
    raise Fail(f"cannot use {type(v).__name__} as time.Time")


TIME_METHODS: Final[dict[str, Callable[..., Any]]] = {
    "Year": lambda t: t.year,
    "Month": lambda t: Month(t.month),
    "Day": lambda t: t.day,
    "Hour": lambda t: t.hour,
    "Minute": lambda t: t.minute,
    "Second": lambda t: t.second,
    "Nanosecond": lambda t: t.microsecond * 1000,
    "Weekday": lambda t: Weekday((t.weekday() + 1) % 7),
    "YearDay": lambda t: t.timetuple().tm_yday,
    "Unix": lambda t: _unix_ns(t) // 10**9,
    "UnixMilli": lambda t: _unix_ns(t) // 10**6,
    "UnixNano": _unix_ns,
    "UTC": lambda t: t.astimezone(UTC),
    "Local": lambda t: t.astimezone(),
    "In": lambda t, z: t.astimezone(z if isinstance(z, tzinfo) else load_zone(z)),
    "Format": lambda t, layout: format_layout(t, layout),
    "Before": lambda t, u: t < _as_time(u),
    "After": lambda t, u: t > _as_time(u),
    "Equal": lambda t, u: t == _as_time(u),
    "IsZero": lambda t: False,
    "Sub": lambda t, u: Duration(_unix_ns(t) - _unix_ns(_as_time(u))),
    "Add": lambda t, d: t + timedelta(microseconds=_as_duration(d) // 1000),
    "AddDate": lambda t, y, m, d: _add_date(t, int(y), int(m), int(d)),
    "Date": lambda t: date(t.year, t.month, t.day).isoformat(),
}
DURATION_METHODS: Final[dict[str, Callable[..., Any]]] = {
    "Hours": lambda d: d / (3600 * 10**9),
    "Minutes": lambda d: d / (60 * 10**9),
    "Seconds": lambda d: d / 10**9,
    "Milliseconds": lambda d: int(d) // 10**6,
    "Microseconds": lambda d: int(d) // 10**3,
    "Nanoseconds": lambda d: int(d),
    "String": format_duration,
    "Abs": lambda d: Duration(abs(d)),
}


def _add_date(t: datetime, years: int, months: int, days: int) -> datetime:
    month0 = t.month - 1 + months
    year = t.year + years + month0 // 12
    first = t.replace(year=year, month=month0 % 12 + 1, day=1)
    # Go normalises overflowing days (Jan 31 + 1 month = Mar 3).
    return first + timedelta(days=t.day - 1 + days)


def call_method(obj: Any, name: str, args: list[Any]) -> Any:
    """Methods of time values; ``None`` marks "not a time value"."""
    t = type(obj)
    table = TIME_METHODS if t is datetime else DURATION_METHODS if t is Duration else None
    if table is None:
        return _NOT_TIME
    method = table.get(name)
    if method is None:
        raise Fail(f"type {'time.Time' if t is datetime else 'time.Duration'} has no method {name}")
    try:
        return method(obj, *args)
    except TypeError:
        raise Fail(f"invalid number of arguments for {name}") from None


_NOT_TIME: Final[Any] = object()
NOT_TIME: Final[Any] = _NOT_TIME


def time_arith(op: str, a: Any, b: Any) -> Any:
    """``+ -`` (and ``*`` by a number) on times and durations; NOT_TIME if n/a."""
    ta, tb = type(a), type(b)
    if op == "-" and ta is datetime and tb is datetime:
        return Duration(_unix_ns(a) - _unix_ns(b))
    if ta is datetime and tb is Duration and op in "+-":
        delta = timedelta(microseconds=int(b) // 1000)
        return a + delta if op == "+" else a - delta
    if op == "+" and ta is Duration and tb is datetime:
        return b + timedelta(microseconds=int(a) // 1000)
    if ta is Duration and tb is Duration and op in "+-":
        return Duration(a + b if op == "+" else a - b)
    if op == "*" and ta is Duration and tb in (int, float):
        return Duration(int(a * b))
    if op == "*" and tb is Duration and ta in (int, float):
        return Duration(int(a * b))
    return _NOT_TIME


def is_time(v: Any) -> bool:
    t = type(v)
    return t is datetime or t is Duration
