"""Mechanics shared by every stage schema: typed reads of raw JSON, and checks.

A stage body is read field by field through a ``Reader``, in one of two modes:

* **run** (``Context.variables`` set): upstream's coercion (BEHAVIOUR.md 5.4)
  with the instance variables: interpolate, empty -> default, parse.
* **check** (``Context.variables`` is ``None``), used when a workflow is
  created: every ``${var}`` is given a *placeholder value* instead. A string
  keeps its placeholder text, so it counts as non-empty; any other type whose
  string holds a placeholder gets a valid literal of that type (``0``,
  ``false``, ``0s``, the epoch), because only run time can tell. Literals are
  parsed for real, so ``"abc"`` as an amount fails at creation.

Coercion stops at the first failure (``CoercionFailure``), like upstream;
validation (``Violation``) runs on the built model and reports every problem.
Both carry the Go field names (run-time messages) and the JSON path
(creation-time messages).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from engine.config._dates import parse_date
from engine.config._durations import parse_duration
from engine.config._interpolation import has_placeholder, interpolate

_BIG_INT = re.compile(r"[+-]?[0-9]+")

Kind = Literal["string", "integer", "boolean", "duration", "date"]

# Valid literals standing in for a placeholder in check mode (see module doc).
_CHECK_LITERALS: dict[Kind, str] = {
    "integer": "0",
    "boolean": "false",
    "duration": "0s",
    "date": "1970-01-01T00:00:00Z",
}


def go_type_name(value: Any) -> str:
    """The Go ``%T`` of a decoded JSON value, as upstream messages print it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class Segment:
    """One step into a stage body: its JSON key and its upstream Go field name.

    ``go`` is ``None`` for map entries, which upstream messages do not name.
    """

    key: str
    go: str | None


Path = tuple[Segment, ...]


def json_path(path: Path) -> str:
    """Dotted JSON path of ``path`` (``amount.amount``)."""
    return ".".join(segment.key for segment in path)


class CoercionFailure(Exception):
    """A raw value does not fit its field's type.

    ``reason`` is upstream's wording; ``detail`` adds the offending literal for
    the creation-time message.
    """

    def __init__(self, path: Path, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason
        self.detail = detail or reason

    def run_message(self) -> str:
        """``resolving field 'Amount': resolving field 'Amount': <reason>``."""
        prefix = "".join(f"resolving field '{s.go}': " for s in self.path if s.go is not None)
        return prefix + self.reason


@dataclass(frozen=True, slots=True)
class Context:
    """Variables for run mode, or ``None`` for check mode."""

    variables: Mapping[str, str] | None

    def text(self, raw: str, kind: Kind) -> str:
        """Interpolate ``raw`` read for a field of type ``kind``."""
        if self.variables is not None:
            return interpolate(raw, self.variables)
        if kind != "string" and has_placeholder(raw):
            return _CHECK_LITERALS[kind]
        return raw


class Reader:
    """Typed access to one raw JSON object (``None`` reads as an empty object)."""

    def __init__(self, raw: Mapping[str, Any] | None, path: Path, context: Context) -> None:
        self._raw: Mapping[str, Any] = raw or {}
        self._path = path
        self._context = context

    def _fail(
        self, key: str, go: str | None, reason: str, detail: str | None = None
    ) -> CoercionFailure:
        return CoercionFailure((*self._path, Segment(key, go)), reason, detail)

    def string(self, key: str, go: str | None, default: str = "") -> str:
        """A string; absent, null or empty after interpolation gives ``default``."""
        raw = self._raw.get(key)
        if raw is None:
            return default
        if not isinstance(raw, str):
            raise self._fail(key, go, f"expected string but was {go_type_name(raw)}")
        return self._context.text(raw, "string") or default

    def optional_string(self, key: str, go: str) -> str | None:
        """A string that is ``None`` only when absent or null (presence quirk, 5.4)."""
        if self._raw.get(key) is None:
            return None
        return self.string(key, go)

    def integer(self, key: str, go: str) -> int | None:
        """An arbitrary-size integer; a JSON number is truncated toward zero."""
        raw = self._raw.get(key)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise self._fail(
                key, go, f"expected big int or interpolated string but was {go_type_name(raw)}"
            )
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float):
            if not math.isfinite(raw):
                raise self._fail(key, go, f"unable to parse '{raw}' as big int")
            return int(raw)  # int() truncates toward zero, as Go's int64(f) does
        text = self._context.text(raw, "integer")
        if text == "":
            return None
        # Go's big.Int SetString(s, 10): optional sign, ASCII digits only (Python's
        # int() would also take spaces, underscores and non-ASCII digits).
        if _BIG_INT.fullmatch(text) is None:
            raise self._fail(key, go, f"unable to parse '{text}' as big int")
        return int(text, 10)

    def boolean(self, key: str, go: str, default: bool = False) -> bool:
        """``true``/``false`` (any case when a string); absent or null gives ``default``."""
        raw = self._raw.get(key)
        if raw is None:
            return default
        if isinstance(raw, bool):
            return raw
        if not isinstance(raw, str):
            raise self._fail(
                key, go, f"expected bool or interpolated string but was {go_type_name(raw)}"
            )
        text = self._context.text(raw, "boolean").lower()
        if text not in ("true", "false"):
            # An empty result is an error too: booleans have no "unset" (5.4).
            raise self._fail(
                key,
                go,
                "unable to resolve field 'bool' to bool value",
                f"unable to parse '{text}' as boolean (expected true or false)",
            )
        return text == "true"

    def duration(self, key: str, go: str) -> int | None:
        """Go duration in nanoseconds; mentioned but empty gives 0 (presence quirk)."""
        raw = self._raw.get(key)
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise self._fail(
                key, go, f"expected duration or interpolated string but was {go_type_name(raw)}"
            )
        text = self._context.text(raw, "duration")
        if text == "":
            return 0
        try:
            return parse_duration(text)
        except ValueError:
            raise self._fail(
                key,
                go,
                "unable to resolve field 'Duration' to duration value",
                f"unable to parse '{text}' as duration",
            ) from None

    def date(self, key: str, go: str) -> datetime | None:
        """RFC 3339 date. Empty after interpolation gives ``None``.

        Project CHOICE (BEHAVIOUR.md 5.4): upstream turns an empty date into
        the zero date 0001-01-01, which then reaches the ledger as a
        transaction timestamp or makes a delay fail; absent is what was meant.
        """
        raw = self._raw.get(key)
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise self._fail(key, go, f"expected string but was {go_type_name(raw)}")
        text = self._context.text(raw, "date")
        if text == "":
            return None
        try:
            return parse_date(text)
        except ValueError:
            raise self._fail(
                key,
                go,
                "expected date as rfc3339 format",
                f"unable to parse '{text}' as RFC 3339 date",
            ) from None

    def string_map(self, key: str, go: str) -> dict[str, str] | None:
        """A string to string map; values are interpolated, keys are not."""
        raw = self._raw.get(key)
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise self._fail(key, go, f"expecting map, got type: {go_type_name(raw)}")
        entries = Reader(raw, (*self._path, Segment(key, go)), self._context)
        # Map entries carry no Go name: upstream reports the map field only.
        return {name: entries.string(name, None) for name in raw}

    def child(self, key: str, go: str) -> Reader | None:
        """A nested object; ``None`` when absent or null."""
        if self._raw.get(key) is None:
            return None
        return self.required_child(key, go)

    def required_child(self, key: str, go: str) -> Reader:
        """A nested object that must be there.

        Mirrors upstream's non-pointer structs (``source``, ``destination``),
        for which absent or null is a type error.
        """
        raw = self._raw.get(key)
        if not isinstance(raw, Mapping):
            raise self._fail(key, go, f"expected map but was {go_type_name(raw)}")
        return Reader(raw, (*self._path, Segment(key, go)), self._context)


@dataclass(frozen=True, slots=True)
class Violation:
    """A validation failure: go-playground lines for run time, one sentence for creation."""

    go_lines: tuple[str, ...]
    field: str | None  # dotted JSON path, None for the stage body itself
    message: str


def _go_line(namespace: str, field: str, tag: str) -> str:
    key = f"{namespace}.{field}"
    return f"Key: '{key}' Error:Field validation for '{field}' failed on the '{tag}' tag"


def required(namespace: str, prefix: str, key: str, go: str, present: bool) -> list[Violation]:
    """The go-playground ``required`` rule on one field."""
    if present:
        return []
    return [Violation((_go_line(namespace, go, "required"),), _join(prefix, key), "is required")]


def exactly_one_of(namespace: str, prefix: str, choices: Mapping[str, bool]) -> list[Violation]:
    """Upstream's one-of rule: exactly one of ``choices`` (JSON key -> is set) is set.

    Upstream reports one line per alternative, all tagged with the whole list.
    """
    if sum(choices.values()) == 1:
        return []
    tag = " or ".join(choices)
    lines = tuple(_go_line(namespace, key, tag) for key in choices)
    if len(choices) == 1:  # a lone alternative is simply a required field
        (key,) = choices
        return [Violation(lines, _join(prefix, key), "is required")]
    listed = ", ".join(f"'{key}'" for key in choices)
    count = "none" if not any(choices.values()) else "several"
    return [Violation(lines, prefix or None, f"exactly one of {listed} must be set ({count} set)")]


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
