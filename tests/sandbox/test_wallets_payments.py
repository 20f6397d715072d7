"""The engine's wallets and payments activities against a real sandbox process."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engine.activities import ActivityFailure, ActivitySettings, HttpStack
from tests.sandbox.conftest import Start

pytestmark = pytest.mark.integration

BIG = 2**70
WALLETS = "/api/ledger/v2/wallets-002"


async def balances(http: httpx.AsyncClient, ledger: str, address: str) -> dict[str, Any]:
    answer = await http.get(f"/api/ledger/v2/{ledger}/accounts/{address}?expand=volumes")
    assert answer.status_code == 200, answer.text
    return {a: v["balance"] for a, v in answer.json()["data"]["volumes"].items()}


async def test_wallet_activities_move_the_wallets_ledger_exactly(start_sandbox: Start) -> None:
    url = start_sandbox()
    async with (
        httpx.AsyncClient(base_url=url) as http,
        HttpStack(ActivitySettings(stack_url=url)) as stack,
    ):
        made = await http.post("/api/wallets/wallets", json={"name": "user:1", "metadata": {}})
        assert made.status_code == 201, made.text
        wallet = made.json()["data"]["id"]
        credit = {
            "id": wallet,
            "data": {
                "amount": {"amount": 3 * BIG, "asset": "EUR/2"},
                "metadata": {"orchestration/move-from-ledger": "x"},
                "sources": [{"identifier": "world", "type": "ACCOUNT"}],
            },
        }
        assert await stack.call("CreditWallet", credit, idempotency_key="c-1") is None
        # The same key again is a replay: credited once.
        await stack.call("CreditWallet", credit, idempotency_key="c-1")
        main = f"wallets:{wallet}:main"
        assert await balances(http, "wallets-002", main) == {"EUR/2": 3 * BIG}

        immediate = {
            "id": wallet,
            "data": {
                "amount": {"amount": BIG, "asset": "EUR/2"},
                "balances": ["main"],
                "destination": {"identifier": "users:042", "type": "ACCOUNT"},
                "metadata": None,
            },
        }
        assert await stack.call("DebitWallet", immediate, idempotency_key="d-1") is None
        pending = {"id": wallet, "data": {**immediate["data"], "pending": True}}
        hold = await stack.call("DebitWallet", pending, idempotency_key="d-2")
        assert hold is not None
        held = hold["data"]
        assert held["walletID"] == wallet
        assert held["destination"] == {"identifier": "users:042", "type": "ACCOUNT"}
        hold_address = f"wallets:{wallet}:hold:{held['id']}"
        assert await balances(http, "wallets-002", hold_address) == {"EUR/2": BIG}
        assert await balances(http, "wallets-002", main) == {"EUR/2": BIG}

        await stack.call("ConfirmHold", {"id": held["id"]}, idempotency_key="h-1")
        await stack.call("ConfirmHold", {"id": held["id"]}, idempotency_key="h-1")  # replay
        assert await balances(http, "wallets-002", hold_address) == {"EUR/2": 0}
        assert await balances(http, "wallets-002", "users:042") == {"EUR/2": 2 * BIG}
        with pytest.raises(ActivityFailure):
            await stack.call("ConfirmHold", {"id": held["id"]}, idempotency_key="h-2")

        got = await stack.call("GetWallet", {"id": wallet}, idempotency_key=None)
        assert got is not None
        assert got["data"]["name"] == "user:1"
        assert got["data"]["ledger"] == "wallets-002"
        assert got["data"]["balances"] == {"main": {"assets": {"EUR/2": BIG}}}
        listed = await stack.call("ListWallets", {"name": "user:1"}, idempotency_key=None)
        assert listed is not None
        assert [w["id"] for w in listed["cursor"]["data"]] == [wallet]

        too_much = {
            "id": wallet,
            "data": {**immediate["data"], "amount": {"amount": BIG + 1, "asset": "EUR/2"}},
        }
        with pytest.raises(ActivityFailure) as refused:
            await stack.call("DebitWallet", too_much, idempotency_key="d-3")
        assert refused.value.code == "INSUFFICIENT_FUND"
        assert await balances(http, "wallets-002", main) == {"EUR/2": BIG}


async def test_a_hold_voided_goes_back_to_main(start_sandbox: Start) -> None:
    url = start_sandbox()
    async with (
        httpx.AsyncClient(base_url=url) as http,
        HttpStack(ActivitySettings(stack_url=url)) as stack,
    ):
        wallet = (await http.post("/api/wallets/wallets", json={"name": "w"})).json()["data"]["id"]
        money = {"amount": BIG, "asset": "USD/2"}
        await stack.call(
            "CreditWallet",
            {"id": wallet, "data": {"amount": money, "metadata": {}, "sources": None}},
            idempotency_key="c",
        )
        hold = await stack.call(
            "DebitWallet",
            {"id": wallet, "data": {"amount": money, "metadata": {}, "pending": True}},
            idempotency_key="d",
        )
        assert hold is not None
        await stack.call("VoidHold", {"id": hold["data"]["id"]}, idempotency_key="v")
        assert await balances(http, "wallets-002", f"wallets:{wallet}:main") == {"USD/2": BIG}
        assert await balances(http, "wallets-002", "world") == {"USD/2": -BIG}


async def test_wallet_to_account_send_shows_on_both(start_sandbox: Start) -> None:
    url = start_sandbox()
    async with httpx.AsyncClient(base_url=url) as http:
        a = (await http.post("/api/wallets/wallets", json={"name": "a"})).json()["data"]["id"]
        b = (await http.post("/api/wallets/wallets", json={"name": "b"})).json()["data"]["id"]
        money = {"amount": BIG, "asset": "EUR"}
        credit = {"amount": money, "metadata": {}, "sources": None}
        assert (await http.post(f"/api/wallets/wallets/{a}/credit", json=credit)).status_code == 204
        wallet_source = {
            "amount": money,
            "metadata": {},
            "sources": [{"type": "WALLET", "identifier": a, "balance": "main"}],
        }
        moved = await http.post(f"/api/wallets/wallets/{b}/credit", json=wallet_source)
        assert moved.status_code == 204, moved.text
        assert await balances(http, "wallets-002", f"wallets:{a}:main") == {"EUR": 0}
        assert await balances(http, "wallets-002", f"wallets:{b}:main") == {"EUR": BIG}
        meta = (await http.get(f"{WALLETS}/accounts/wallets:{b}:main")).json()["data"]["metadata"]
        assert meta["wallets/id"] == b
        assert meta["wallets/spec/type"] == "wallets.primary"


async def test_payment_and_transfer_activities(start_sandbox: Start) -> None:
    url = start_sandbox()
    async with (
        httpx.AsyncClient(base_url=url) as http,
        HttpStack(ActivitySettings(stack_url=url)) as stack,
    ):
        seeded = await http.post(
            "/api/payments/payments",
            json={
                "id": "pay_1",
                "reference": "py_1",
                "asset": "EUR/2",
                "amount": BIG,
                "type": "PAY-IN",
                "status": "SUCCEEDED",
            },
        )
        assert seeded.status_code == 200, seeded.text
        got = await stack.call("GetPayment", {"id": "pay_1"}, idempotency_key=None)
        assert got is not None
        assert got["data"]["amount"] == BIG
        assert got["data"]["initialAmount"] == BIG
        with pytest.raises(ActivityFailure):
            await stack.call("GetPayment", {"id": "nope"}, idempotency_key=None)

        transfer = {
            "amount": BIG,
            "asset": "EUR/2",
            "provider": "stripe",
            "destination": "acct_1",
            "type": "PAYOUT",
            "reference": "exec-07",
            "metadata": {},
            "waitingValidation": False,
        }
        assert await stack.call("CreateTransferInitiation", transfer, idempotency_key=None) is None
        # A retry finds the transfer by reference and creates nothing.
        await stack.call("CreateTransferInitiation", transfer, idempotency_key=None)
        listed = (await http.get("/api/payments/transfer-initiations")).json()["cursor"]["data"]
        assert len(listed) == 1
        made = listed[0]
        assert (made["reference"], made["amount"], made["provider"]) == ("exec-07", BIG, "STRIPE")
        assert made["destinationAccountID"] == "acct_1"
        one = await http.get(f"/api/payments/transfer-initiations/{made['id']}")
        assert one.json()["data"] == made
        again = await http.post(
            "/api/payments/transfer-initiations",
            json={
                "reference": "exec-07",
                "amount": 1,
                "asset": "EUR/2",
                "destinationAccountID": "x",
            },
        )
        assert again.status_code == 409


async def test_a_wallet_key_reused_with_another_body_is_refused(start_sandbox: Start) -> None:
    url = start_sandbox()
    async with httpx.AsyncClient(base_url=url) as http:
        wallet = (await http.post("/api/wallets/wallets", json={"name": "w"})).json()["data"]["id"]
        path = f"/api/wallets/wallets/{wallet}/credit"
        key = {"Idempotency-Key": "k"}
        one = {"amount": {"amount": BIG, "asset": "EUR"}, "metadata": {}, "sources": None}
        other = {"amount": {"amount": BIG + 1, "asset": "EUR"}, "metadata": {}, "sources": None}
        assert (await http.post(path, json=one, headers=key)).status_code == 204
        refused = await http.post(path, json=other, headers=key)
        assert (refused.status_code, refused.json()["errorCode"]) == (400, "VALIDATION")
        assert await balances(http, "wallets-002", f"wallets:{wallet}:main") == {"EUR": BIG}
