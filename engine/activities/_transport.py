"""The wire under HttpStack: one request out, one bounded answer back.

``Transport.exchange`` is the one method HttpStack and the token request
need (tests put a plain handler behind it, see tests/engine/activities/
fake_stack.py). ``AiohttpTransport`` is the real one. It replaced httpx: on
2 cores httpx/httpcore cost 1-3 ms of CPU per call, growing with the number of
pooled connections (httpcore scans the whole pool, and polls every idle
socket, on each request), which held the engine under 300 sends/s at 32
calls in flight; aiohttp costs ~0.2 ms at any concurrency.

No timer here: every exchange runs inside the attempt's ``asyncio.timeout``
(HttpStack.call), the one time limit, so each call arms one timer, not four.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from yarl import URL

# An answer is decoded whole and becomes a stage output (and so history
# records): 16 MiB is 16 times a 1,000-item wallet page, and bounds what a
# misbehaving endpoint streaming an endless body can make a worker hold.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete HTTP answer: status and body bytes (decompressed)."""

    status: int
    body: bytes


class TransportError(Exception):
    """The exchange did not complete: refused, reset, malformed, or an answer over the bound.

    ``kind`` names the failure (an exception class name), ``str()`` adds its
    text; neither carries request headers.
    """

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class Transport(Protocol):
    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        """Send ``body`` (exactly these bytes) to ``url`` (already percent-encoded).

        Redirects are not followed. Raises ``TransportError``.
        """
        ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """Keep-alive connections to the stack, at most ``max_connections`` at once.

    The session is made on first use: it belongs to the running event loop,
    and HttpStack may be built before one runs (the worker builds it in its
    constructor).
    """

    def __init__(self, max_connections: int, max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        self._max_connections = max_connections
        self._max_answer = max_answer_bytes
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            # The attempt's asyncio.timeout is the limit (module docstring);
            # aiohttp's defaults (5 min total, 30 s connect) would only add timers.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=None),
            # The stack URL is the route: no HTTP(S)_PROXY or ~/.netrc from
            # the environment (aiohttp would re-read both on every request).
            trust_env=False,
            auto_decompress=True,
        )
        return self._session

    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        session = self._session or self._open()
        try:
            # encoded=True: the path goes out byte for byte as built (Go's
            # PathEscape); yarl would otherwise re-quote some escapes.
            async with session.request(
                method, URL(url, encoded=True), headers=headers, data=body, allow_redirects=False
            ) as resp:
                return Reply(resp.status, await self._read(resp))
        except aiohttp.ClientError as exc:
            raise TransportError(type(exc).__name__, str(exc)) from None
        except OSError as exc:
            raise TransportError(type(exc).__name__, str(exc)) from None

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        length = resp.content_length
        plain = "Content-Encoding" not in resp.headers
        if length is not None and length <= self._max_answer and plain:
            return await resp.read()
        # Chunked, compressed or announced too big: count what arrives.
        parts: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self._max_answer:
                resp.close()
                raise TransportError("AnswerTooLarge", f"over {self._max_answer} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
            # Lets the connector's transports finish closing (aiohttp's advice
            # for a clean shutdown without "unclosed transport" warnings).
            await asyncio.sleep(0)
