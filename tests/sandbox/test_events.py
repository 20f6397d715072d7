"""The events each sandbox state change produces (in process, a list as the sink)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from compose.sandbox import Event, SandboxSettings, create_app
from compose.sandbox.publisher import module_topic
from streams import codec

pytestmark = pytest.mark.unit

V2 = "/api/ledger/v2"
BIG = 2**70 + 3


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
async def client(events: list[Event]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(SandboxSettings(), sink=events.append))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        assert (await http.post(f"{V2}/main")).status_code == 204
        yield http


async def post(http: httpx.AsyncClient, path: str, body: Any) -> int:
    return (await http.post(path, content=codec.dumps(body))).status_code


async def test_a_transaction_is_one_committed_transactions_event(
    client: httpx.AsyncClient, events: list[Event]
) -> None:
    await post(
        client,
        f"{V2}/main/transactions",
        {
            "postings": [{"source": "world", "destination": "a", "asset": "EUR/2", "amount": 5}],
        },
    )
    body = {
        "postings": [{"source": "world", "destination": "a", "asset": "EUR/2", "amount": BIG}],
        "reference": "r1",
        "metadata": {"order": "A-17"},
    }
    assert await post(client, f"{V2}/main/transactions", body) == 200
    assert [e.type for e in events] == ["COMMITTED_TRANSACTIONS"] * 2
    event = events[1]
    assert event.service == "ledger"
    envelope = codec.loads(event.encode())
    assert set(envelope) == {"date", "app", "version", "type", "payload"}
    assert (envelope["app"], envelope["version"]) == ("ledger", "v2")
    assert envelope["date"].endswith("Z")
    payload = envelope["payload"]
    assert payload["ledger"] == "main"
    assert payload["accountMetadata"] == {}
    [tx] = payload["transactions"]
    assert tx["id"] == 1
    assert tx["postings"][0]["amount"] == BIG
    assert (tx["reference"], tx["metadata"], tx["reverted"]) == ("r1", {"order": "A-17"}, False)
    assert tx["updatedAt"] == tx["insertedAt"]
    assert tx["preCommitVolumes"] == {
        "world": {"EUR/2": {"input": 0, "output": 5, "balance": -5}},
        "a": {"EUR/2": {"input": 5, "output": 0, "balance": 5}},
    }
    assert tx["postCommitVolumes"] == {
        "world": {"EUR/2": {"input": 0, "output": 5 + BIG, "balance": -5 - BIG}},
        "a": {"EUR/2": {"input": 5 + BIG, "output": 0, "balance": 5 + BIG}},
    }
    assert tx["postCommitEffectiveVolumes"] == tx["postCommitVolumes"]


async def test_an_overdraft_script_is_published_as_its_postings(
    client: httpx.AsyncClient, events: list[Event]
) -> None:
    plain = (
        f"send [EUR/2 {BIG}] (\n  source = @a allowing unbounded overdraft\n  destination = @b\n)"
    )
    assert await post(client, f"{V2}/main/transactions", {"script": {"plain": plain}}) == 200
    [tx] = events[0].envelope["payload"]["transactions"]
    assert tx["postings"] == [{"source": "a", "destination": "b", "asset": "EUR/2", "amount": BIG}]
    assert tx["postCommitVolumes"]["a"]["EUR/2"]["balance"] == -BIG


async def test_refused_and_replayed_writes_publish_nothing(
    client: httpx.AsyncClient, events: list[Event]
) -> None:
    spend = {"postings": [{"source": "a", "destination": "b", "asset": "EUR/2", "amount": 1}]}
    assert await post(client, f"{V2}/main/transactions", spend) == 400
    fund = {"postings": [{"source": "world", "destination": "a", "asset": "EUR/2", "amount": 1}]}
    headers = {"Idempotency-Key": "k"}
    for _ in range(2):
        await client.post(f"{V2}/main/transactions", content=codec.dumps(fund), headers=headers)
    assert [e.type for e in events] == ["COMMITTED_TRANSACTIONS"]


async def test_account_metadata_is_a_saved_metadata_event(
    client: httpx.AsyncClient, events: list[Event]
) -> None:
    assert await post(client, f"{V2}/main/accounts/users:1/metadata", {"tier": "gold"}) == 204
    [event] = events
    assert (event.service, event.type) == ("ledger", "SAVED_METADATA")
    assert event.envelope["payload"] == {
        "ledger": "main",
        "targetType": "ACCOUNT",
        "targetId": "users:1",
        "metadata": {"tier": "gold"},
    }


async def test_a_payment_is_a_v1_saved_payment_event(
    client: httpx.AsyncClient, events: list[Event]
) -> None:
    body = {"id": "pay_1", "reference": "py_1", "asset": "EUR/2", "amount": BIG}
    made = await client.post("/api/payments/payments", content=codec.dumps(body))
    assert made.status_code == 200
    [event] = events
    assert (event.service, event.type) == ("payments", "SAVED_PAYMENT")
    assert (event.envelope["app"], event.envelope["version"]) == ("payments", "v1")
    payload = event.envelope["payload"]
    assert (payload["id"], payload["amount"], payload["initialAmount"]) == ("pay_1", BIG, BIG)
    assert payload["type"] == "PAY-IN"
    assert "connectorId" in payload
    assert "destinationAccountId" not in payload  # empty: left out


async def test_wallet_writes_publish_the_wallet_ledger_events(
    client: httpx.AsyncClient, events: list[Event]
) -> None:
    made = await client.post("/api/wallets/wallets", content=codec.dumps({"name": "w"}))
    wallet = codec.loads(made.content)["data"]["id"]
    credit = {"amount": {"asset": "EUR/2", "amount": BIG}}
    path = f"/api/wallets/wallets/{wallet}/credit"
    assert (await client.post(path, content=codec.dumps(credit))).status_code == 204
    assert [(e.type, e.envelope["payload"]["ledger"]) for e in events] == [
        ("SAVED_METADATA", "wallets-002"),
        ("COMMITTED_TRANSACTIONS", "wallets-002"),
    ]


def test_topics_are_the_worker_inbound_topic_of_each_module() -> None:
    assert module_topic(["acme.ledger", "acme.payments"], "ledger") == "acme.ledger"
    assert module_topic(["acme-ledger", "acme-payments"], "payments") == "acme-payments"
    assert module_topic(["ledger", "payments"], "ledger") == "ledger"
    assert module_topic(["acme.orders"], "payments") == "payments"
