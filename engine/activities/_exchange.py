"""What an activity implementation sees of HTTP: ``send`` one request, get an ``Answer``.

The service modules (``_ledger``, ``_wallets``, ``_payments``) turn a request
object of BEHAVIOUR 7.2 into calls of ``send`` and the answers into the
output object of 7.2; ``HttpStack`` implements ``send`` (URL, credentials,
Idempotency-Key, error typing). A non-2xx status never reaches them: ``send``
raises ``ActivityFailure``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from engine.activities._errors import ActivityFailure


class _NoBody:
    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx answer: its status and its decoded JSON body (None when empty)."""

    method: str
    path: str
    status: int
    data: Any

    def field(self, key: str) -> Any:
        """``data[key]`` of an object answer (``data``, ``cursor``), else a retryable failure."""
        if isinstance(self.data, dict) and isinstance(self.data.get(key), dict):
            return self.data[key]
        raise ActivityFailure(
            f"unexpected answer from {self.method} {self.path}: no {key!r} object",
            status=self.status,
        )


class Send(Protocol):
    def __call__(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = NO_BODY,
    ) -> Awaitable[Answer]: ...


Activity = Callable[[Send, Mapping[str, Any]], Awaitable[dict[str, Any] | None]]


class RequestError(ValueError):
    """The request object lacks what the activity needs: a bug upstream of us, never retried."""


def need(request: Mapping[str, Any], key: str, kind: type | tuple[type, ...] = str) -> Any:
    value = request.get(key) if isinstance(request, Mapping) else None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        wanted = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise RequestError(f"{key!r} must be a {wanted}, got {type(value).__name__}")
    return value


def segment(value: str) -> str:
    """One path segment, escaped as Go's url.PathEscape does (``:`` and ``@`` stay)."""
    if not value:
        raise RequestError("an empty path segment")
    return quote(value, safe=":@&=+$!*'()~")


def without(data: Mapping[str, Any], optional: tuple[str, ...]) -> dict[str, Any]:
    """``data`` without the ``optional`` keys that are unset (None)."""
    return {k: v for k, v in data.items() if not (k in optional and v is None)}
