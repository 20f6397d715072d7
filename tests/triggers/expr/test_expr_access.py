"""Member access, indexing, slicing, ``?.`` and ``??`` (EXPR.md section 6)."""

from __future__ import annotations

from typing import Any

import pytest

from triggers import expr

pytestmark = pytest.mark.unit

EVENT: dict[str, Any] = {
    "type": "payment",
    "amount": 1500.0,
    "list": [10.0, 20.0, 30.0],
    "nested": {"inner": {"value": "deep"}, "nothing": None},
    "text": "héllo",
    "in": "word-operator key",
}


def run(src: str, event: Any = EVENT) -> Any:
    return expr.compile(src).run({"event": event})


def fails(src: str, event: Any = EVENT) -> str:
    prog = expr.compile(src)
    with pytest.raises(expr.EvalError) as info:
        prog.run({"event": event})
    return info.value.message


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("event.type", "payment"),
        ('event["type"]', "payment"),
        ("event.Type", None),  # case-sensitive, missing key is nil
        ("event.missing", None),
        ("event.nested.inner.value", "deep"),
        ('event["nested"]["inner"]["value"]', "deep"),
        ("event.in", "word-operator key"),
        ("event.list[0]", 10.0),
        ("event.list[-1]", 30.0),
        ("event.list[-3]", 10.0),
        ("event.list[1.9]", 20.0),
        ("event.list[event.amount / 1000]", 20.0),
        ("event.list[1:]", [20.0, 30.0]),
        ("event.list[:2]", [10.0, 20.0]),
        ("event.list[:]", [10.0, 20.0, 30.0]),
        ("event.list[-2:]", [20.0, 30.0]),
        ("event.list[2:1]", []),
        ("event.list[-10:10]", [10.0, 20.0, 30.0]),
        ('"héllo"[1:3]', "é"),
        ("event.text[0:1]", "h"),
        ("event.text[0]", 104),  # a byte, as an integer
        ('"str"[0:1]', "s"),
        ("event.missing?.x", None),
        ("event.missing?.x.y.z", None),
        ("event.missing?.[0]", None),
        ("event.nested?.inner.value", "deep"),
        ("event.nested.nothing?.x", None),
        ('event.missing ?? "default"', "default"),
        ('event.nested.nothing ?? "d"', "d"),
        ("event.nested.inner?.value ?? 'd'", "deep"),
        ("event.missing?.x ?? 'd'", "d"),
        ('{"a": 1}.a', 1),
        ("[1, 2, 3][1]", 2),
        ("[1, 2, 3][-1]", 3),
        ("get(event.list, 10)", None),
        ("get(event.list, -1)", 30.0),
        ("get(event, 'type')", "payment"),
        ("get(event.missing, 'x')", None),
        ("get(event.nested, 'nope')", None),
    ],
)
def test_access(src: str, expected: Any) -> None:
    result = run(src)
    assert result == expected, (src, result)
    assert type(result) is type(expected), (src, result)


@pytest.mark.parametrize(
    ("src", "needle"),
    [
        ("event.missing.x", "cannot fetch x from <nil>"),
        ("event.amount.b", "cannot fetch b from float64"),
        ("event.list.name", "cannot fetch name"),
        ("event.type.length", "cannot fetch length"),
        ("event.list[3]", "index out of range: 3 (array length is 3)"),
        ("event.list[-4]", "index out of range"),
        ('event.list["a"]', "cannot fetch"),
        ("event.nested[0]", "cannot fetch"),
        ("event.missing[0:1]", "cannot slice"),
        ("event.missing[0]", "cannot fetch"),
        ("event.nested?.nothing.x", "cannot fetch x from <nil>"),
        ('event.missing.x ?? "x"', "cannot fetch x from <nil>"),
        ("Event.type", "cannot fetch type from <nil>"),
    ],
)
def test_access_errors(src: str, needle: str) -> None:
    assert needle in fails(src)


def test_optional_does_not_make_member_of_string_legal() -> None:
    fails("event.type?.x")


def test_missing_field_error_points_at_the_property() -> None:
    # BEHAVIOUR.md 3.19 example, verbatim.
    prog = expr.compile("event.metadata.walletID")
    with pytest.raises(expr.EvalError) as info:
        prog.run({"event": {}})
    assert str(info.value) == (
        "cannot fetch walletID from <nil> (1:16)\n | event.metadata.walletID\n | ...............^"
    )
    assert (info.value.line, info.value.column) == (1, 16)
