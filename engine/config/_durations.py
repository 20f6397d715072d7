"""Go ``time.Duration`` parsing and canonical formatting, in integer nanoseconds.

Delay durations travel as Go duration strings and are re-printed in Go's
canonical form in histories (``90s`` -> ``1m30s``), so both directions must
match Go exactly. Values are int64 nanoseconds, like Go; Python ints keep the
arithmetic exact (Go multiplies fractions through a float64, which can differ
from this by one nanosecond for fractions longer than about 15 digits).
"""

from __future__ import annotations

_MAX = (1 << 63) - 1  # int64 bounds: Go rejects anything outside them
_MIN_MAGNITUDE = 1 << 63

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,  # micro sign, what Go prints
    "\u03bcs": MICROSECOND,  # Greek mu, also accepted by Go
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}


def _invalid(text: str) -> ValueError:
    return ValueError(f'time: invalid duration "{text}"')


def _digits_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return end


def parse_duration(text: str) -> int:
    """Parse a Go duration (``300ms``, ``-1.5h``, ``2h45m``) into nanoseconds.

    Raises ``ValueError`` like Go does: empty string, missing or unknown unit,
    a component without digits, or a value outside int64.
    """
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":  # the only unit-less form Go accepts
        return 0
    if not rest:
        raise _invalid(text)
    total = 0
    pos = 0
    while pos < len(rest):
        if not (rest[pos] == "." or "0" <= rest[pos] <= "9"):
            raise _invalid(text)
        int_end = _digits_end(rest, pos)
        int_digits = rest[pos:int_end]
        frac_digits = ""
        pos = int_end
        if pos < len(rest) and rest[pos] == ".":
            frac_end = _digits_end(rest, pos + 1)
            frac_digits = rest[pos + 1 : frac_end]
            pos = frac_end
        if not int_digits and not frac_digits:  # "." or ".s": no digits at all
            raise _invalid(text)
        unit_end = pos
        while unit_end < len(rest) and not (rest[unit_end] == "." or "0" <= rest[unit_end] <= "9"):
            unit_end += 1
        unit_text = rest[pos:unit_end]
        if not unit_text:
            raise ValueError(f'time: missing unit in duration "{text}"')
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise ValueError(f'time: unknown unit "{unit_text}" in duration "{text}"')
        pos = unit_end
        value = int(int_digits or "0") * unit
        if frac_digits:
            value += int(frac_digits) * unit // 10 ** len(frac_digits)
        total += value
        if total > _MIN_MAGNITUDE:
            raise _invalid(text)
    if negative:
        return -total
    if total > _MAX:
        raise _invalid(text)
    return total


def _with_fraction(value: int, digits: int) -> str:
    """``value / 10**digits`` printed like Go: trailing zeros and a bare dot dropped."""
    whole, fraction = divmod(value, 10**digits)
    fraction_text = f"{fraction:0{digits}d}".rstrip("0")
    return f"{whole}.{fraction_text}" if fraction_text else str(whole)


def format_duration(nanoseconds: int) -> str:
    """Print nanoseconds as Go's ``Duration.String`` does (``1h0m0s``, ``1.5µs``, ``0s``)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    magnitude = abs(nanoseconds)
    if magnitude < SECOND:
        # Below one second Go switches to the largest fitting sub-second unit.
        if magnitude < MICROSECOND:
            return f"{sign}{magnitude}ns"
        if magnitude < MILLISECOND:
            return f"{sign}{_with_fraction(magnitude, 3)}\u00b5s"
        return f"{sign}{_with_fraction(magnitude, 6)}ms"
    seconds, fraction = divmod(magnitude, SECOND)
    text = f"{_with_fraction((seconds % 60) * SECOND + fraction, 9)}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours:
            text = f"{hours}h{text}"
    return sign + text
