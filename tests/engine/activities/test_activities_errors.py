"""Failure typing (BEHAVIOUR 7.1, 8.7): typed codes, untyped statuses, time-outs, transports."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from engine.activities import ActivityFailure, HttpStack
from engine.activities._transport import Reply, TransportError
from tests.engine.activities.fake_stack import FakeStack, Seen, reply, settings

pytestmark = pytest.mark.unit

WALLET = "7c0e6a51-3f7e-4f0a-9b5e-2d1c0a9b8e7f"
TX = {
    "Ledger": "main",
    "Data": {"postings": [{"amount": 1, "asset": "X", "source": "a", "destination": "b"}]},
}
DEBIT = {"id": WALLET, "data": {"amount": {"amount": 1, "asset": "X"}, "metadata": {}}}

TYPED_REQUESTS: dict[str, dict[str, Any]] = {
    "GetAccount": {"ledger": "main", "id": "users:042"},
    "AddAccountMetadata": {"ledger": "main", "account": "users:042", "metadata": {"a": "b"}},
    "CreateTransaction": TX,
    "DebitWallet": DEBIT,
}
UNTYPED_REQUESTS: dict[str, dict[str, Any]] = {
    "GetWallet": {"id": WALLET},
    "ListWallets": {"name": "user:1"},
    "CreditWallet": {
        "id": WALLET,
        "data": {"amount": {"amount": 1, "asset": "X"}, "metadata": {}, "sources": None},
    },
    "ConfirmHold": {"id": "h"},
    "VoidHold": {"id": "h"},
    "GetPayment": {"id": "pay_1"},
}


def failing(status: int, body: Any = None, *, raw: bytes | None = None) -> FakeStack:
    return FakeStack(lambda seen: reply(status, body, raw=raw))


async def failure_of(
    fake: FakeStack, name: str, request: dict[str, Any], **kw: Any
) -> ActivityFailure:
    with pytest.raises(ActivityFailure) as caught:
        await fake.stack(**kw).call(name, request, idempotency_key="k")
    return caught.value


@pytest.mark.parametrize(
    ("name", "code", "status", "retryable"),
    [
        ("CreateTransaction", "INSUFFICIENT_FUND", 400, True),
        ("CreateTransaction", "VALIDATION", 400, False),
        ("CreateTransaction", "CONFLICT", 400, False),
        ("CreateTransaction", "NO_SCRIPT", 400, False),
        ("CreateTransaction", "COMPILATION_FAILED", 400, False),
        ("CreateTransaction", "METADATA_OVERRIDE", 400, True),
        ("CreateTransaction", "LEDGER_NOT_FOUND", 404, True),
        ("CreateTransaction", "INTERNAL", 500, True),
        ("AddAccountMetadata", "VALIDATION", 400, False),
        ("AddAccountMetadata", "NOT_FOUND", 404, True),
        ("GetAccount", "NOT_FOUND", 404, True),
        ("GetAccount", "VALIDATION", 400, False),
        ("DebitWallet", "INSUFFICIENT_FUND", 400, True),
        ("DebitWallet", "VALIDATION", 400, False),
        ("DebitWallet", "HOLD_CLOSED", 400, True),
        ("DebitWallet", "INTERNAL_ERROR", 500, True),
    ],
)
async def test_typed_activities_carry_the_error_code(
    name: str, code: str, status: int, retryable: bool
) -> None:
    fake = failing(status, {"errorCode": code, "errorMessage": f"the {code} text"})
    failure = await failure_of(fake, name, TYPED_REQUESTS[name])
    assert (failure.code, failure.message, failure.retryable, failure.status) == (
        code,
        f"the {code} text",
        retryable,
        status,
    )
    assert str(failure) == f"the {code} text"


@pytest.mark.parametrize("name", sorted(UNTYPED_REQUESTS))
async def test_untyped_activities_have_no_code_and_are_retryable(name: str) -> None:
    # Even a VALIDATION body: upstream's untyped activities retry everything.
    fake = failing(400, {"errorCode": "VALIDATION", "errorMessage": "bad input"})
    failure = await failure_of(fake, name, UNTYPED_REQUESTS[name])
    assert failure.code is None
    assert failure.retryable is True
    assert failure.status == 400
    assert failure.message.startswith("unexpected status 400 from ")
    assert failure.message.endswith(": VALIDATION: bad input")


async def test_untyped_not_found_names_the_request() -> None:
    fake = failing(404, {"errorCode": "NOT_FOUND", "errorMessage": "wallet not found"})
    failure = await failure_of(fake, "GetWallet", {"id": WALLET})
    assert failure.message == (
        f"unexpected status 404 from GET /api/wallets/wallets/{WALLET}: NOT_FOUND: wallet not found"
    )


async def test_transfer_initiation_failures_are_untyped() -> None:
    def handler(seen: Seen) -> Reply:
        if seen.method == "GET":
            return reply(200, {"cursor": {"data": []}})
        return reply(400, {"errorCode": "VALIDATION", "errorMessage": "invalid type"})

    request = {
        "amount": 1,
        "asset": "X",
        "provider": "stripe",
        "destination": "d",
        "type": "BOGUS",
        "metadata": {},
        "waitingValidation": False,
        "reference": "r",
    }
    failure = await failure_of(FakeStack(handler), "CreateTransferInitiation", request)
    assert (failure.code, failure.retryable, failure.status) == (None, True, 400)


@pytest.mark.parametrize("name", ["CreateTransaction", "GetWallet"])
async def test_a_gateway_error_without_a_formance_body_is_untyped(name: str) -> None:
    fake = failing(503, raw=b"<html>Service Unavailable</html>")
    request = TX if name == "CreateTransaction" else {"id": "w"}
    failure = await failure_of(fake, name, request)
    path = (
        "/api/ledger/v2/main/transactions"
        if name == "CreateTransaction"
        else "/api/wallets/wallets/w"
    )
    method = "POST" if name == "CreateTransaction" else "GET"
    assert (failure.code, failure.retryable, failure.status) == (None, True, 503)
    assert failure.message == f"unexpected status 503 from {method} {path}"


async def test_a_success_status_with_a_broken_body_is_a_retryable_failure() -> None:
    fake = failing(200, raw=b"{not json")
    failure = await failure_of(fake, "GetWallet", {"id": "w"})
    assert (failure.code, failure.retryable, failure.status) == (None, True, 200)
    assert "not JSON" in failure.message


async def test_a_success_without_the_expected_envelope_is_a_retryable_failure() -> None:
    fake = failing(200, {"cursor": {}})
    failure = await failure_of(fake, "GetPayment", {"id": "p"})
    assert (failure.code, failure.retryable) == (None, True)
    assert (
        failure.message == "unexpected answer from GET /api/payments/payments/p: no 'data' object"
    )


async def test_an_attempt_that_outlives_its_time_limit_fails_retryable() -> None:
    async def slow(seen: Seen) -> Reply:
        await asyncio.sleep(5)
        return reply(204)

    loop = asyncio.get_running_loop()
    started = loop.time()
    failure = await failure_of(FakeStack(slow), "CreateTransaction", TX, activity_timeout=0.2)
    assert loop.time() - started < 1.0
    assert (failure.code, failure.retryable, failure.status) == (None, True, None)
    assert (
        failure.message
        == "timeout: no answer within 0.2 s to POST /api/ledger/v2/main/transactions"
    )


async def test_a_broken_exchange_is_a_retryable_failure_naming_the_request() -> None:
    def resetting(seen: Seen) -> Reply:
        raise TransportError("ServerDisconnectedError", "Server disconnected")

    failure = await failure_of(FakeStack(resetting), "DebitWallet", DEBIT)
    assert (failure.code, failure.retryable, failure.status) == (None, True, None)
    assert failure.message == (
        f"POST /api/wallets/wallets/{WALLET}/debit failed: "
        "ServerDisconnectedError: Server disconnected"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_a_retryable_failure_without_secrets() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with HttpStack(settings(stack_url=url, stack_token="s3cr3t-t0ken")) as stack:
        with pytest.raises(ActivityFailure) as caught:
            await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
    failure = caught.value
    assert (failure.code, failure.retryable, failure.status) == (None, True, None)
    assert failure.message.startswith("GET /api/wallets/wallets/w failed: ClientConnectorError")
    assert "s3cr3t" not in failure.message
    assert "s3cr3t" not in repr(failure)


async def test_a_long_server_message_is_bounded() -> None:
    fake = failing(400, {"errorCode": "VALIDATION", "errorMessage": "x" * 50_000})
    failure = await failure_of(fake, "CreateTransaction", TX)
    assert failure.message == "x" * 1000


def test_stack_url_is_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="absolute"):
        HttpStack(settings(stack_url=""))
    with pytest.raises(ValueError, match="credentials"):
        HttpStack(settings(stack_url="http://user:pw@stack.test"))
    with pytest.raises(ValueError, match="CLIENT_SECRET"):
        HttpStack(settings(stack_client_id="orchestration"))


def test_failure_defaults_follow_the_retry_policy() -> None:
    assert ActivityFailure("m", code="CONFLICT").retryable is False
    assert ActivityFailure("m", code="INSUFFICIENT_FUND").retryable is True
    assert ActivityFailure("m").retryable is True
    assert ActivityFailure("m", code="NOT_FOUND", retryable=False).retryable is False
