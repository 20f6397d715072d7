"""HttpStack over real sockets: a tiny FastAPI stack with a token endpoint, under uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from fastapi import FastAPI, Request, Response

from engine.activities import ActivityFailure, HttpStack
from streams import codec
from tests.engine.activities.fake_stack import settings
from tests.engine.activities.servers import serve

pytestmark = pytest.mark.integration

BIG = 2**90 + 1


class TinyStack:
    def __init__(self) -> None:
        self.tokens_issued = 0
        self.keys: list[str | None] = []
        self.app = FastAPI()
        self.app.post("/api/auth/oauth/token")(self.token)
        self.app.post("/api/ledger/v2/{ledger}/transactions")(self.transaction)
        self.app.get("/api/wallets/wallets/{wallet}")(self.hang)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != ("orch", "s3cret"):
            return Response(codec.dumps({"error": "invalid_client"}), 401)
        self.tokens_issued += 1
        body = {"access_token": f"live-{self.tokens_issued}", "expires_in": 3600}
        return Response(codec.dumps(body), media_type="application/json")

    async def transaction(self, ledger: str, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer live-{self.tokens_issued}":
            return Response(status_code=401)
        self.keys.append(request.headers.get("idempotency-key"))
        data = codec.loads(await request.body())
        tx = {**data, "id": 2**70, "reverted": False, "timestamp": "2025-03-04T10:15:30Z"}
        return Response(codec.dumps({"data": tx}), media_type="application/json")

    async def hang(self, wallet: str) -> Response:
        await asyncio.sleep(3)
        return Response(status_code=204)


@pytest.fixture(scope="module")
def tiny() -> Iterator[tuple[TinyStack, str]]:
    stack = TinyStack()
    with serve(stack.app) as url:
        yield stack, url


async def test_oauth_and_big_integers_over_real_sockets(tiny: tuple[TinyStack, str]) -> None:
    fake, url = tiny
    posting = {"amount": BIG, "asset": "EUR/2", "source": "world", "destination": "a"}
    request = {"Ledger": "main", "Data": {"postings": [posting]}}
    config = settings(stack_url=url, stack_client_id="orch", stack_client_secret="s3cret")
    async with HttpStack(config) as stack:
        first = await stack.call("CreateTransaction", request, idempotency_key="live:1")
        again = await stack.call("CreateTransaction", request, idempotency_key="live:1")
    assert first == again
    assert first is not None
    (tx,) = first["data"]
    assert (tx["id"], tx["txid"]) == (2**70, 2**70)
    assert tx["postings"] == [posting]
    assert type(tx["postings"][0]["amount"]) is int
    assert fake.tokens_issued == 1
    assert fake.keys == ["live:1", "live:1"]


async def test_a_hanging_server_is_a_timeout(tiny: tuple[TinyStack, str]) -> None:
    _, url = tiny
    async with HttpStack(settings(stack_url=url, activity_timeout=0.3)) as stack:
        with pytest.raises(ActivityFailure) as caught:
            await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert caught.value.retryable is True
    assert caught.value.code is None
    assert caught.value.message.startswith("timeout")
