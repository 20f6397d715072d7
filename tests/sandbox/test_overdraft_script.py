"""The overdraft Numscript template of BEHAVIOUR 6.3, run by the sandbox ledger (in process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from compose.sandbox import SandboxSettings, create_app
from streams import codec

pytestmark = pytest.mark.unit

V2 = "/api/ledger/v2"
BIG = 2**70 + 3


def template(source: str, destination: str, asset: str, amount: int) -> str:
    # Exactly the text of 6.3, as the engine renders it.
    return (
        f"send [{asset} {amount}] (\n"
        f"  source = @{source} allowing unbounded overdraft\n"
        f"  destination = @{destination}\n)"
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(SandboxSettings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        assert (await http.post(f"{V2}/main")).status_code == 204
        yield http


async def run(http: httpx.AsyncClient, plain: str, **extra: Any) -> tuple[int, Any]:
    body = {"script": {"plain": plain, **extra}}
    resp = await http.post(f"{V2}/main/transactions", content=codec.dumps(body))
    return resp.status_code, codec.loads(resp.content)


async def balance(http: httpx.AsyncClient, address: str, asset: str = "EUR/2") -> int:
    resp = await http.get(f"{V2}/main/accounts/{address}?expand=volumes")
    volumes = codec.loads(resp.content)["data"]["volumes"]
    return int(volumes.get(asset, {}).get("balance", 0))


async def test_template_overdraws_the_source_by_an_exact_big_amount(
    client: httpx.AsyncClient,
) -> None:
    status, answer = await run(client, template("users:042", "payouts:pending", "EUR/2", BIG))
    assert status == 200
    assert answer["data"]["postings"] == [
        {"source": "users:042", "destination": "payouts:pending", "asset": "EUR/2", "amount": BIG}
    ]
    assert await balance(client, "users:042") == -BIG
    assert await balance(client, "payouts:pending") == BIG


async def test_the_same_send_as_postings_is_refused_without_overdraft(
    client: httpx.AsyncClient,
) -> None:
    posting = {"source": "users:042", "destination": "b", "asset": "EUR/2", "amount": BIG}
    resp = await client.post(
        f"{V2}/main/transactions", content=codec.dumps({"postings": [posting]})
    )
    assert codec.loads(resp.content)["errorCode"] == "INSUFFICIENT_FUND"


async def test_whitespace_does_not_matter(client: httpx.AsyncClient) -> None:
    plain = "  send[EUR/2   7](source=@a allowing\tunbounded overdraft destination=@b)\n\n"
    assert (await run(client, plain))[0] == 200
    assert await balance(client, "a") == -7


async def test_variables_are_substituted_from_vars(client: httpx.AsyncClient) -> None:
    plain = (
        "vars {\n  monetary $money\n  account $src\n  account $dst\n}\n"
        "send $money (\n  source = $src allowing unbounded overdraft\n  destination = $dst\n)"
    )
    values = {"money": f"EUR/2 {BIG}", "src": "users:1", "dst": "users:2"}
    status, answer = await run(client, plain, vars=values)
    assert status == 200
    assert answer["data"]["postings"][0]["amount"] == BIG
    assert await balance(client, "users:1") == -BIG
    assert await balance(client, "users:2") == BIG


async def test_asset_and_number_variables_inside_a_monetary(client: httpx.AsyncClient) -> None:
    plain = (
        "vars { asset $cur number $n }"
        "send [$cur $n] ( source = @a allowing unbounded overdraft destination = @b )"
    )
    assert (await run(client, plain, vars={"cur": "USD/2", "n": str(BIG)}))[0] == 200
    assert await balance(client, "b", "USD/2") == BIG


async def test_bounded_overdraft_allows_down_to_the_bound_only(client: httpx.AsyncClient) -> None:
    def bounded(amount: int) -> str:
        return (
            f"send [EUR/2 {amount}] (source = @a allowing overdraft up to [EUR/2 {BIG}] "
            "destination = @b)"
        )

    too_far = await run(client, bounded(BIG + 1))
    assert (too_far[0], too_far[1]["errorCode"]) == (400, "INSUFFICIENT_FUND")
    assert await balance(client, "a") == 0
    assert (await run(client, bounded(BIG)))[0] == 200
    assert await balance(client, "a") == -BIG
    again = await run(client, bounded(1))
    assert again[1]["errorCode"] == "INSUFFICIENT_FUND"


async def test_a_send_without_allowing_needs_funds(client: httpx.AsyncClient) -> None:
    plain = "send [EUR/2 5] (\n  source = @a\n  destination = @b\n)"
    assert (await run(client, plain))[1]["errorCode"] == "INSUFFICIENT_FUND"


@pytest.mark.parametrize(
    "plain",
    [
        "send [EUR/2 5] (source = @a allowing unbounded overdraft destination = @b) "
        "send [EUR/2 5] (source = @a destination = @b)",
        "send [EUR/2 5] (source = {@a @c} destination = @b)",
        "send [EUR/2 *] (source = @a allowing unbounded overdraft destination = @b)",
        "send [EUR/2 5] (source = @a allowing unbounded overdraft destination = @b",
        "send [EUR/2 -5] (source = @a allowing unbounded overdraft destination = @b)",
        "send [EUR/2 5] (source = @a allowing overdraft up to [USD 1] destination = @b)",
        "send [EUR/2 5] (source = $a allowing unbounded overdraft destination = @b)",
        'set_tx_meta("k", "v")',
        "",
    ],
)
async def test_any_other_script_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, plain: str
) -> None:
    status, answer = await run(client, plain)
    # An empty script is no script at all: the ledger then sees no postings.
    expected = "NO_POSTINGS" if not plain else "COMPILATION_FAILED"
    assert (status, answer["errorCode"]) == (400, expected)
    assert await balance(client, "a") == 0
    listed = codec.loads((await client.get(f"{V2}/main/transactions")).content)
    assert listed["cursor"]["data"] == []


async def test_declared_variable_without_a_value_is_refused(client: httpx.AsyncClient) -> None:
    plain = "vars { account $src } send [EUR/2 1] (source = $src destination = @b)"
    status, answer = await run(client, plain, vars={})
    assert (status, answer["errorCode"]) == (400, "COMPILATION_FAILED")


async def test_postings_and_a_script_together_are_refused(client: httpx.AsyncClient) -> None:
    body = {
        "postings": [{"source": "world", "destination": "b", "asset": "EUR/2", "amount": 1}],
        "script": {"plain": template("a", "b", "EUR/2", 1)},
    }
    resp = await client.post(f"{V2}/main/transactions", content=codec.dumps(body))
    assert (resp.status_code, codec.loads(resp.content)["errorCode"]) == (400, "VALIDATION")


async def test_script_keeps_reference_metadata_and_idempotency(client: httpx.AsyncClient) -> None:
    body = {
        "script": {"plain": template("a", "b", "EUR/2", BIG)},
        "reference": "ref-1",
        "metadata": {"k": "v"},
    }
    headers = {"Idempotency-Key": "s1"}
    first = await client.post(f"{V2}/main/transactions", content=codec.dumps(body), headers=headers)
    again = await client.post(f"{V2}/main/transactions", content=codec.dumps(body), headers=headers)
    assert first.content == again.content
    tx = codec.loads(first.content)["data"]
    assert (tx["reference"], tx["metadata"]) == ("ref-1", {"k": "v"})
    assert await balance(client, "a") == -BIG
