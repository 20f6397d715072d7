"""AiohttpTransport over real sockets: the bytes on the wire, redirects, bounds, keep-alive."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from engine.activities import ActivityFailure, HttpStack
from engine.activities._transport import AiohttpTransport, TransportError
from streams import codec
from tests.engine.activities.fake_stack import settings
from tests.engine.activities.servers import serve

pytestmark = pytest.mark.integration

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
BIG = 2**80 + 7


class Wire:
    """A raw ASGI app: records each request as received; answers by path."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append(
            {
                "method": scope["method"],
                "raw_path": scope["raw_path"],
                "query": scope["query_string"],
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "body": body,
            }
        )
        path = scope["path"]
        if path.startswith("/redirect"):
            await self._answer(send, 302, b"", [(b"location", b"/api/wallets/wallets/w")])
        elif path == "/api/wallets/wallets":
            await self._answer(send, 200, codec.dumps({"cursor": {"data": []}}), [])
        elif path == "/huge":
            # Streamed (chunked, no Content-Length) past any small bound.
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(8):
                await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/announced":
            await self._answer(send, 200, b"y" * 5000, [])
        elif path == "/gzip":
            packed = gzip.compress(codec.dumps({"data": {"amount": BIG}}))
            await self._answer(send, 200, packed, [(b"content-encoding", b"gzip")])
        else:
            tx = {"id": BIG, "postings": [], "reverted": False, "timestamp": "2025-01-01T00:00:00Z"}
            await self._answer(send, 200, codec.dumps({"data": tx}), [])

    @staticmethod
    async def _answer(send: Send, status: int, body: bytes, headers: list[Any]) -> None:
        headers = [(b"content-type", b"application/json"), *headers]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def wire() -> Iterator[tuple[Wire, str]]:
    app = Wire()
    # Idle connections closed after 1 s: the keep-alive test outlives that.
    with serve(app, timeout_keep_alive=1) as url:
        yield app, url


async def test_the_request_goes_out_byte_for_byte(wire: tuple[Wire, str]) -> None:
    app, url = wire
    app.requests.clear()
    posting = {"amount": BIG, "asset": "EUR/2", "source": "world", "destination": "a b/c?d"}
    # "," escaped as Go's PathEscape does: yarl's default re-quoting would send it bare.
    request = {"Ledger": "my ledger,eu", "Data": {"postings": [posting]}}
    async with HttpStack(settings(stack_url=url, stack_token="t0k")) as stack:
        await stack.call("CreateTransaction", request, idempotency_key="k:1")
        await stack.call("ListWallets", {"name": "a b&c=d+é"}, idempotency_key="k:2")
    tx, wallets = app.requests
    assert tx["method"] == "POST"
    assert tx["raw_path"] == b"/api/ledger/v2/my%20ledger%2Ceu/transactions"
    assert tx["body"] == codec.dumps({"postings": [posting]})
    headers = tx["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(tx["body"]))
    assert headers["idempotency-key"] == "k:1"
    assert headers["authorization"] == "Bearer t0k"
    assert headers["accept"] == "application/json"
    # GETs carry neither a key nor a body type.
    assert (wallets["raw_path"], wallets["query"]) == (
        b"/api/wallets/wallets",
        b"name=a+b%26c%3Dd%2B%C3%A9",
    )
    assert "idempotency-key" not in wallets["headers"]
    assert "content-type" not in wallets["headers"]
    assert wallets["body"] == b""


async def test_a_redirect_is_an_answer_not_followed(wire: tuple[Wire, str]) -> None:
    app, url = wire
    app.requests.clear()
    async with HttpStack(settings(stack_url=url + "/redirect")) as stack:
        with pytest.raises(ActivityFailure) as caught:
            await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert (caught.value.status, caught.value.retryable) == (302, True)
    assert len(app.requests) == 1


@pytest.mark.parametrize("path", ["/huge", "/announced"])
async def test_an_answer_over_the_bound_is_refused(wire: tuple[Wire, str], path: str) -> None:
    _, url = wire
    transport = AiohttpTransport(4, max_answer_bytes=4000)
    try:
        with pytest.raises(TransportError) as caught:
            await transport.exchange("GET", url + path, {}, None)
        assert caught.value.kind == "AnswerTooLarge"
        # The connection stays usable for the next exchange.
        reply = await transport.exchange("GET", url + "/ok", {}, None)
        assert reply.status == 200
    finally:
        await transport.aclose()


async def test_a_compressed_answer_is_decoded_exactly(wire: tuple[Wire, str]) -> None:
    _, url = wire
    transport = AiohttpTransport(4)
    try:
        reply = await transport.exchange("GET", url + "/gzip", {}, None)
    finally:
        await transport.aclose()
    assert codec.loads(reply.body) == {"data": {"amount": BIG}}


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    wire: tuple[Wire, str],
) -> None:
    _, url = wire
    posting = {"amount": 1, "asset": "X", "source": "world", "destination": "a"}
    request = {"Ledger": "main", "Data": {"postings": [posting]}}
    async with HttpStack(settings(stack_url=url)) as stack:
        await stack.call("CreateTransaction", request, idempotency_key="idle:1")
        await asyncio.sleep(1.5)  # past the server's keep-alive of 1 s
        out = await stack.call("CreateTransaction", request, idempotency_key="idle:2")
    assert out is not None
    assert out["data"][0]["id"] == BIG


def test_a_stack_built_outside_an_event_loop_works_inside_one(wire: tuple[Wire, str]) -> None:
    # The worker builds HttpStack in its constructor; the session must belong
    # to the loop that later runs the calls (warnings are errors here).
    _, url = wire
    stack = HttpStack(settings(stack_url=url))

    async def use() -> Any:
        try:
            return await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
        finally:
            await stack.aclose()

    assert asyncio.run(use()) == {
        "data": {"id": BIG, "postings": [], "reverted": False, "timestamp": "2025-01-01T00:00:00Z"}
    }
