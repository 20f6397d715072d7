"""An in-repo fake stack for HttpStack unit tests: a plain handler behind httpx.MockTransport.

``FakeStack(handler)`` records every request (decoded with ``streams.codec``)
and answers with what ``handler(request)`` returns; ``reply`` builds answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from engine.activities import ActivitySettings, HttpStack
from streams import codec

BASE = "http://stack.test"

Handler = Callable[["Seen"], "httpx.Response | Awaitable[httpx.Response]"]


@dataclass
class Seen:
    method: str
    path: str  # as sent, percent-escapes kept
    query: dict[str, str]
    headers: httpx.Headers
    raw: bytes
    body: Any  # decoded JSON, or None when empty

    @property
    def form(self) -> dict[str, str]:
        return dict(httpx.QueryParams(self.raw.decode()))


def reply(status: int = 200, body: Any = None, *, raw: bytes | None = None) -> httpx.Response:
    content = raw if raw is not None else (b"" if body is None else codec.dumps(body))
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})


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

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        raw = await request.aread()
        is_json = request.headers.get("content-type") == "application/json"
        seen = Seen(
            method=request.method,
            path=request.url.raw_path.decode().split("?")[0],
            query=dict(request.url.params),
            headers=request.headers,
            raw=raw,
            body=codec.loads(raw) if raw and is_json else None,
        )
        self.seen.append(seen)
        answer = self._handler(seen)
        if not isinstance(answer, httpx.Response):
            answer = await answer
        return answer

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def stack(self, **overrides: Any) -> HttpStack:
        return HttpStack(settings(**overrides), self.client())

    def api_calls(self) -> list[Seen]:
        return [s for s in self.seen if not s.path.startswith("/api/auth/")]
