"""``${name}`` interpolation of stage string values (BEHAVIOUR.md 5.3)."""

from __future__ import annotations

import re
from collections.abc import Mapping

# `${` + one or more characters other than `}` + `}`; no escaping, no nesting.
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Replace every ``${name}`` in ``text``; an unknown name becomes ``""``."""
    if "${" not in text:
        return text
    return PLACEHOLDER.sub(lambda match: variables.get(match.group(1), ""), text)


def has_placeholder(text: str) -> bool:
    """Whether ``text`` holds at least one ``${name}`` placeholder."""
    return PLACEHOLDER.search(text) is not None
