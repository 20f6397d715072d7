"""The sandbox's ledger rules over HTTP, in process (httpx ASGI transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from compose.sandbox import SandboxSettings, create_app
from streams import codec

pytestmark = pytest.mark.unit

V2 = "/api/ledger/v2"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(SandboxSettings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        assert (await http.post(f"{V2}/main")).status_code == 204
        yield http


async def post(http: httpx.AsyncClient, path: str, body: Any, key: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    resp = await http.post(path, content=codec.dumps(body), headers=headers)
    return resp.status_code, codec.loads(resp.content) if resp.content else None


def tx(source: str, destination: str, amount: int, **extra: Any) -> dict[str, Any]:
    posting = {"source": source, "destination": destination, "asset": "USD/2", "amount": amount}
    return {"postings": [posting], **extra}


async def account(http: httpx.AsyncClient, address: str) -> Any:
    resp = await http.get(f"{V2}/main/accounts/{address}?expand=volumes,effectiveVolumes")
    return codec.loads(resp.content)["data"]


async def test_info_names_the_sandbox(client: httpx.AsyncClient) -> None:
    assert codec.loads((await client.get("/_info")).content)["name"] == "sandbox"


async def test_double_entry_moves_both_sides_and_world_goes_negative(
    client: httpx.AsyncClient,
) -> None:
    status, answer = await post(client, f"{V2}/main/transactions", tx("world", "users:1", 100))
    assert status == 200
    assert answer["data"]["id"] == 0
    user, world = await account(client, "users:1"), await account(client, "world")
    assert user["volumes"]["USD/2"] == {"input": 100, "output": 0, "balance": 100}
    assert user["effectiveVolumes"]["USD/2"]["balance"] == 100
    assert world["volumes"]["USD/2"]["balance"] == -100


async def test_insufficient_fund_refused_and_nothing_applied(client: httpx.AsyncClient) -> None:
    await post(client, f"{V2}/main/transactions", tx("world", "users:1", 10))
    status, answer = await post(client, f"{V2}/main/transactions", tx("users:1", "users:2", 11))
    assert (status, answer["errorCode"]) == (400, "INSUFFICIENT_FUND")
    assert (await account(client, "users:1"))["volumes"]["USD/2"]["balance"] == 10
    assert (await account(client, "users:2"))["volumes"] == {}


async def test_amounts_beyond_64_bits_are_exact(client: httpx.AsyncClient) -> None:
    big = 2**70 + 1
    status, answer = await post(client, f"{V2}/main/transactions", tx("world", "a:b", big))
    assert status == 200
    assert answer["data"]["postings"][0]["amount"] == big
    assert (await account(client, "a:b"))["volumes"]["USD/2"]["balance"] == big
    v1 = codec.loads((await client.get("/api/ledger/main/accounts/a:b")).content)["data"]
    assert v1["balances"] == {"USD/2": big}
    assert v1["volumes"]["USD/2"] == {"input": big, "output": 0, "balance": big}


async def test_same_idempotency_key_and_body_applies_once(client: httpx.AsyncClient) -> None:
    body = tx("world", "users:1", 5)
    first = await post(client, f"{V2}/main/transactions", body, key="k1")
    second = await post(client, f"{V2}/main/transactions", body, key="k1")
    assert first == second
    assert first[0] == 200
    listed = codec.loads((await client.get(f"{V2}/main/transactions")).content)
    assert len(listed["cursor"]["data"]) == 1
    assert (await account(client, "users:1"))["volumes"]["USD/2"]["balance"] == 5


async def test_same_idempotency_key_other_body_refused(client: httpx.AsyncClient) -> None:
    await post(client, f"{V2}/main/transactions", tx("world", "users:1", 5), key="k1")
    status, answer = await post(client, f"{V2}/main/transactions", tx("world", "users:1", 6), "k1")
    assert (status, answer["errorCode"]) == (400, "VALIDATION")
    assert (await account(client, "users:1"))["volumes"]["USD/2"]["balance"] == 5


async def test_reference_is_unique_per_ledger(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{V2}/other")).status_code == 204
    body = tx("world", "users:1", 1, reference="ref-1")
    assert (await post(client, f"{V2}/main/transactions", body))[0] == 200
    status, answer = await post(client, f"{V2}/main/transactions", body)
    assert (status, answer["errorCode"]) == (409, "CONFLICT")
    assert (await post(client, f"{V2}/other/transactions", body))[0] == 200


async def test_ledgers_created_listed_and_got(client: httpx.AsyncClient) -> None:
    again = await client.post(f"{V2}/main")
    assert codec.loads(again.content)["errorCode"] == "LEDGER_ALREADY_EXISTS"
    names = [x["name"] for x in codec.loads((await client.get(V2)).content)["cursor"]["data"]]
    # The wallets service's ledger exists from the start, as in a stack.
    assert names == ["main", "wallets-002"]
    assert codec.loads((await client.get(f"{V2}/main")).content)["data"]["name"] == "main"
    missing = await client.get(f"{V2}/nope")
    assert (missing.status_code, codec.loads(missing.content)["errorCode"]) == (404, "NOT_FOUND")


async def test_get_transaction_and_account_metadata(client: httpx.AsyncClient) -> None:
    await post(client, f"{V2}/main/transactions", tx("world", "users:1", 3, metadata={"a": "b"}))
    got = codec.loads((await client.get(f"{V2}/main/transactions/0")).content)["data"]
    assert got["metadata"] == {"a": "b"}
    assert got["postings"][0]["amount"] == 3
    assert (await client.get(f"{V2}/main/transactions/1")).status_code == 404
    assert (await post(client, f"{V2}/main/accounts/users:1/metadata", {"tier": "gold"}))[0] == 204
    assert (await account(client, "users:1"))["metadata"] == {"tier": "gold"}


async def test_injected_errors_are_not_applied_and_logged() -> None:
    app = create_app(SandboxSettings(error_rate=1.0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        resp = await http.post(f"{V2}/main")
        assert resp.status_code == 503
        log = codec.loads((await http.get("/_sandbox/log")).content)["data"]
    assert [(e["path"], e["status"], e["fault"]) for e in log] == [(f"{V2}/main", 503, "error")]


async def test_transactions_listed_newest_first_in_pages(client: httpx.AsyncClient) -> None:
    for amount in range(1, 4):
        await post(client, f"{V2}/main/transactions", tx("world", "users:1", amount))
    first = codec.loads((await client.get(f"{V2}/main/transactions?pageSize=2")).content)
    assert [t["id"] for t in first["cursor"]["data"]] == [2, 1]
    assert first["cursor"]["hasMore"] is True
    params = {"pageSize": "2", "cursor": first["cursor"]["next"]}
    second = codec.loads((await client.get(f"{V2}/main/transactions", params=params)).content)
    assert [t["id"] for t in second["cursor"]["data"]] == [0]
    assert second["cursor"]["hasMore"] is False


async def test_multi_posting_transaction_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    await post(client, f"{V2}/main/transactions", tx("world", "a", 5))
    postings = [
        {"source": "a", "destination": "b", "asset": "USD/2", "amount": 5},
        {"source": "b", "destination": "c", "asset": "USD/2", "amount": 5},
        {"source": "a", "destination": "c", "asset": "USD/2", "amount": 1},
    ]
    status, answer = await post(client, f"{V2}/main/transactions", {"postings": postings})
    assert (status, answer["errorCode"]) == (400, "INSUFFICIENT_FUND")
    assert (await account(client, "a"))["volumes"]["USD/2"]["balance"] == 5
    assert (await account(client, "c"))["volumes"] == {}
    # Chained through b within one transaction: a's 5 reach c.
    status, _ = await post(client, f"{V2}/main/transactions", {"postings": postings[:2]})
    assert status == 200
    assert (await account(client, "c"))["volumes"]["USD/2"]["balance"] == 5


async def test_postings_are_checked_in_order(client: httpx.AsyncClient) -> None:
    await post(client, f"{V2}/main/transactions", tx("world", "a", 5))
    # b would end at 0, but it is spent before it is funded.
    postings = [
        {"source": "b", "destination": "c", "asset": "USD/2", "amount": 5},
        {"source": "a", "destination": "b", "asset": "USD/2", "amount": 5},
    ]
    status, answer = await post(client, f"{V2}/main/transactions", {"postings": postings})
    assert (status, answer["errorCode"]) == (400, "INSUFFICIENT_FUND")


async def test_invalid_amounts_are_refused(client: httpx.AsyncClient) -> None:
    for amount in (-1, 1.5, True, "10"):
        status, answer = await post(client, f"{V2}/main/transactions", tx("world", "a", amount))
        assert (status, answer["errorCode"]) == (400, "VALIDATION"), amount


async def test_no_postings_and_scripts_are_refused(client: httpx.AsyncClient) -> None:
    empty = await post(client, f"{V2}/main/transactions", {"postings": []})
    script = await post(client, f"{V2}/main/transactions", {"script": {"plain": "send"}})
    assert (empty[0], empty[1]["errorCode"]) == (400, "NO_POSTINGS")
    assert (script[0], script[1]["errorCode"]) == (400, "COMPILATION_FAILED")


async def test_metadata_idempotency_and_call_log(client: httpx.AsyncClient) -> None:
    path = f"{V2}/main/accounts/users:1/metadata"
    assert (await post(client, path, {"tier": "gold"}, key="m"))[0] == 204
    assert (await post(client, path, {"tier": "gold"}, key="m"))[0] == 204
    other = await post(client, path, {"tier": "silver"}, key="m")
    assert (other[0], other[1]["errorCode"]) == (400, "VALIDATION")
    assert (await account(client, "users:1"))["metadata"] == {"tier": "gold"}
    log = codec.loads((await client.get("/_sandbox/log")).content)["data"]
    posts = [(e["idempotencyKey"], e["status"]) for e in log if e["path"] == path]
    assert posts == [("m", 204), ("m", 204), ("m", 400)]
