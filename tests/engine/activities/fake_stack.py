"""An in-repo fake stack for HttpStack unit tests: a plain handler behind the Transport port.

``FakeStack(handler)`` is a ``Transport``: it records every request (decoded
with ``streams.codec``) and answers with what ``handler(seen)`` returns
(raising ``TransportError`` plays a broken connection); ``reply`` builds
answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import SecretStr

from engine.activities import ActivitySettings, HttpStack
from engine.activities._transport import Reply
from streams import codec

BASE = "http://stack.test"

Handler = Callable[["Seen"], "Reply | Awaitable[Reply]"]


@dataclass
class Seen:
    method: str
    path: str  # as sent, percent-escapes kept
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased, as HTTP compares them
    raw: bytes
    body: Any  # decoded JSON, or None when empty

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw.decode(), keep_blank_values=True))


def reply(status: int = 200, body: Any = None, *, raw: bytes | None = None) -> Reply:
    return Reply(status, raw if raw is not None else (b"" if body is None else codec.dumps(body)))


def settings(**overrides: Any) -> ActivitySettings:
    """Explicit values for every field, so the developer's environment cannot leak in."""
    values: dict[str, Any] = {
        "stack_url": BASE,
        "stack_token": None,
        "stack_client_id": "",
        "stack_client_secret": None,
        "activity_timeout": 5.0,
        "activity_max_concurrency": 32,
        "activity_rate_limit": 0.0,
    }
    values.update(overrides)
    for key in ("stack_token", "stack_client_secret"):
        if isinstance(values[key], str):
            values[key] = SecretStr(values[key])
    return ActivitySettings(**values)


class FakeStack:
    def __init__(self, handler: Handler | None = None) -> None:
        self.seen: list[Seen] = []
        self._handler = handler or (lambda seen: reply(204))

    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        parts = urlsplit(url)
        lowered = {name.lower(): value for name, value in headers.items()}
        raw = body or b""
        is_json = lowered.get("content-type") == "application/json"
        seen = Seen(
            method=method,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=lowered,
            raw=raw,
            body=codec.loads(raw) if raw and is_json else None,
        )
        self.seen.append(seen)
        answer = self._handler(seen)
        if not isinstance(answer, Reply):
            answer = await answer
        return answer

    async def aclose(self) -> None:
        pass

    def stack(self, **overrides: Any) -> HttpStack:
        return HttpStack(settings(**overrides), self)

    def api_calls(self) -> list[Seen]:
        return [s for s in self.seen if not s.path.startswith("/api/auth/")]
