"""``${name}`` interpolation (BEHAVIOUR.md 5.3)."""

import pytest

from engine.config import interpolate

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${a}", {"a": "1"}, "1"),
        ("test:${a}:x:${b}", {"a": "1", "b": "2"}, "test:1:x:2"),
        ("${a}${a}", {"a": "xy"}, "xyxy"),
        ("users:${userID}", {"userID": "042"}, "users:042"),
        ("no placeholder", {"a": "1"}, "no placeholder"),
        ("", {}, ""),
    ],
)
def test_placeholders_are_replaced(text: str, variables: dict[str, str], expected: str) -> None:
    assert interpolate(text, variables) == expected


def test_unknown_variable_becomes_empty() -> None:
    assert interpolate("a-${missing}-b", {"other": "x"}) == "a--b"


def test_empty_braces_are_not_a_placeholder() -> None:
    # One or more characters are required between the braces.
    assert interpolate("${}", {"": "x"}) == "${}"


def test_no_nesting_and_no_escaping() -> None:
    # The name runs up to the first "}", so "${a${b}" is one placeholder named "a${b".
    assert interpolate("${a${b}}", {"b": "x", "a${b": "n"}) == "n}"
    assert interpolate("$${a}", {"a": "1"}) == "$1"


def test_values_are_not_interpolated_again() -> None:
    assert interpolate("${a}", {"a": "${b}", "b": "no"}) == "${b}"


def test_names_are_taken_verbatim() -> None:
    assert interpolate("${ spaced name }", {" spaced name ": "ok"}) == "ok"
