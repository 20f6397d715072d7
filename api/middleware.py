"""ASGI middleware: trailing slashes, NUL characters, body size bound."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

GATEWAY_PREFIX = "/api/orchestration"
_GATEWAY_DIR = GATEWAY_PREFIX + "/"


class NormalisePath:
    """One route table for every spelling of a path.

    `/workflows/` and `/workflows` are the same route (upstream accepts both),
    and `/api/orchestration/...` (the Formance gateway prefix, which SDKs use)
    is the same as `/...`: stripping it here halves the routes to match.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            query: bytes = scope.get("query_string", b"")
            # No id, name or cursor can hold U+0000 (PostgreSQL text cannot):
            # answer 400 here rather than let the database driver fail.
            if "\x00" in path or b"%00" in query or b"\x00" in query:
                await _send_error(send, 400, b"path and query must not contain NUL characters")
                return
            original = path
            if path == GATEWAY_PREFIX or path.startswith(_GATEWAY_DIR):
                path = path[len(GATEWAY_PREFIX) :] or "/"
            if len(path) > 1 and path.endswith("/"):
                path = path.rstrip("/") or "/"
            if path != original:
                scope = dict(scope, path=path)
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Refuse bodies above `limit` bytes with 413, whether or not they announce a length."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(send, self.limit)
                return
        received = 0
        limit = self.limit

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, bounded, send)
        except BodyTooLarge:
            await _too_large(send, limit)


class BodyTooLarge(Exception):
    """Raised into the app when the body grows past the limit mid-stream."""


async def _too_large(send: Send, limit: int) -> None:
    await _send_error(send, 413, b"request body exceeds " + str(limit).encode() + b" bytes")


async def _send_error(send: Send, status: int, message: bytes) -> None:
    body = b'{"errorCode":"VALIDATION","errorMessage":"' + message + b'"}'
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
