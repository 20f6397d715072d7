"""The one-method port the engine calls its activities through."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Stack(Protocol):
    async def call(
        self, name: str, request: Mapping[str, Any], *, idempotency_key: str | None
    ) -> dict[str, Any] | None:
        """Run one attempt of activity ``name`` (BEHAVIOUR 7.2).

        ``request`` is the object of the stage history input ``{name: request}``;
        the result is the object of its output ``{name: output}``, or None for
        the activities without output. Raises ``ActivityFailure``.
        """
        ...
