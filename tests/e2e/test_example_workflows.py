"""Every example workflow shipped upstream (BEHAVIOUR 5.9) run through the API on the sandbox.

One stack (API, worker, sandbox as real processes): each example is created
from its YAML, run with its variables, and checked where it leaves its mark:
balances and metadata on the sandbox's ledger, wallets and payments, both
histories, and for the three-stage example the lifecycle events in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from streams import codec
from tests.e2e.conftest import Stack
from tests.e2e.test_lifecycle_events import _of, _read_events
from tests.e2e.test_walking_skeleton import poll
from tests.engine.config.test_config_examples import EXAMPLES
from tests.sandbox.conftest import start_sandbox

__all__ = ["start_sandbox"]  # the sandbox process fixture, shared

pytestmark = pytest.mark.e2e

SENDS = ("ledger-to-ledger.yaml", "wallet-to-payout.yaml", "payout-with-tracking.yaml")
AMOUNT = 2**70 + 5  # exact on every path, or the balances below are wrong


class Sandbox:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.http.request(
            method,
            path,
            content=None if body is None else codec.dumps(body),
            headers={"content-type": "application/json"},
        )
        assert answer.status_code < 300, (path, answer.status_code, answer.text)
        return codec.loads(answer.content) if answer.content else None

    def fund(self, ledger: str, account: str, amount: int) -> None:
        postings = [{"source": "world", "destination": account, "amount": amount, "asset": "EUR/2"}]
        self.call("POST", f"/api/ledger/v2/{ledger}/transactions", {"postings": postings})

    def balance(self, ledger: str, account: str) -> int:
        got = self.call("GET", f"/api/ledger/v2/{ledger}/accounts/{account}?expand=volumes")
        volumes = got["data"].get("volumes", {}).get("EUR/2", {"balance": 0})
        return int(volumes["balance"])

    def wallet(self, name: str, metadata: dict[str, str] | None = None) -> tuple[str, str]:
        made = self.call("POST", "/api/wallets/wallets", {"name": name, "metadata": metadata or {}})
        wallet_id = made["data"]["id"]
        ledger = self.call("GET", f"/api/wallets/wallets/{wallet_id}")["data"]["ledger"]
        return wallet_id, ledger

    def payment(self, payment_id: str, amount: int) -> None:
        self.call(
            "POST",
            "/api/payments/payments",
            {
                "id": payment_id,
                "reference": f"ref-{payment_id}",
                "asset": "EUR/2",
                "amount": amount,
                "type": "PAY-IN",
                "status": "SUCCEEDED",
            },
        )

    def transfers(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.call("GET", "/api/payments/transfer-initiations")[
            "cursor"
        ]["data"]
        return rows


def _run(client: httpx.Client, name: str, variables: dict[str, str]) -> str:
    created = client.post(
        "/v2/workflows", content=EXAMPLES[name], headers={"content-type": "text/vnd.yaml"}
    )
    assert created.status_code == 201, (name, created.text)
    workflow_id = created.json()["data"]["id"]
    run = client.post(f"/v2/workflows/{workflow_id}/instances", json=variables)
    assert run.status_code == 201, (name, run.text)
    instance_id: str = run.json()["data"]["id"]
    return instance_id


def _instance(client: httpx.Client, instance_id: str) -> dict[str, Any]:
    data: dict[str, Any] = client.get(f"/v2/instances/{instance_id}").json()["data"]
    return data


def _activities(client: httpx.Client, instance_id: str, stage: int) -> list[str]:
    rows = client.get(f"/v2/instances/{instance_id}/stages/{stage}/history").json()["data"]
    return [row["name"] for row in rows]


async def test_every_upstream_example_runs_on_the_sandbox(
    run_stack: Callable[..., Stack], start_sandbox: Callable[..., str]
) -> None:
    url = start_sandbox()
    with httpx.Client(base_url=url, timeout=30) as http:
        await _examples(run_stack(stack_url=url), Sandbox(http))


async def _examples(stack: Stack, sandbox: Sandbox) -> None:
    for ledger in ("main", "other", "default", "orchestration-000-internal"):
        sandbox.call("POST", f"/api/ledger/v2/{ledger}")
    sandbox.fund("main", "users:001", 2 * AMOUNT)  # ledger-to-ledger, ledger-to-wallet
    sandbox.call(
        "POST",
        "/api/ledger/v2/main/accounts/users:042/metadata",
        {"formanceAccountID": "acct_042"},
    )
    target, target_ledger = sandbox.wallet("target")
    payin, payin_ledger = sandbox.wallet("payin")
    payout, payout_ledger = sandbox.wallet("payout", {"formanceAccountID": "acct_w"})
    credit = {"amount": {"amount": AMOUNT, "asset": "EUR/2"}}
    sandbox.call("POST", f"/api/wallets/wallets/{payout}/credit", credit)
    sandbox.payment("pay-1", AMOUNT)
    sandbox.payment("pay-2", AMOUNT)
    amount = str(AMOUNT)
    runs = {
        "delay.yaml": {},
        "wait_event.yaml": {},
        "update-account-metadata.yaml": {
            "accountID": "users:777",
            "ledger": "main",
            "value": "bar",
        },
        "ledger-to-ledger.yaml": {
            "accountID1": "users:001",
            "ledger1": "main",
            "accountID2": "users:002",
            "ledger2": "other",
            "amount": amount,
        },
        "ledger-to-wallet.yaml": {
            "accountID": "users:001",
            "ledger": "main",
            "walletID": target,
            "amount": amount,
        },
        "payin-to-wallet.yaml": {"paymentID": "pay-1", "walletID": payin, "amount": amount},
        "wallet-to-payout.yaml": {"walletID": payout, "psp": "stripe", "amount": amount},
        "payout-with-tracking.yaml": {
            "userID": "042",
            "psp": "stripe",
            "sourceAccountID": "acct_src",
            "amount": amount,
        },
        "workflow.yaml": {
            "paymentID": "pay-2",
            "temporaryAccount": "tmp:1",
            "ledger": "main",
            "user": "users:003",
            "amount": amount,
        },
        "failing-workflow.yaml": {},
    }
    with stack.client() as client:
        ids = {name: _run(client, name, variables) for name, variables in runs.items()}
        # The two waiting examples get their events once they wait.
        for name, event in (("wait_event.yaml", "continue"), ("workflow.yaml", "processed")):
            stage = 0 if name == "wait_event.yaml" else 1
            poll(
                lambda n=name, s=stage: [
                    r for r in _instance(client, ids[n]).get("status", []) if r["stage"] == s
                ],
                bool,
                timeout=60,
            )
            await asyncio.sleep(0.5)  # the stage's wait is recorded before its status row lands
            sent = client.post(f"/v2/instances/{ids[name]}/events", json={"name": event})
            assert sent.status_code == 204, sent.text
        done = {
            name: poll(lambda i=iid: _instance(client, i), lambda i: i["terminated"], timeout=90)
            for name, iid in ids.items()
        }
        histories = {
            name: client.get(f"/v2/instances/{iid}/history").json()["data"]
            for name, iid in ids.items()
        }
        activities = {
            name: _activities(client, ids[name], 0)
            for name in (
                "ledger-to-ledger.yaml",
                "wallet-to-payout.yaml",
                "payout-with-tracking.yaml",
            )
        }

    failed = {name: i.get("error") for name, i in done.items() if i.get("error")}
    assert set(failed) == {"failing-workflow.yaml"}, failed
    assert all(i["terminated"] for i in done.values()), done
    # Instance history: one entry per stage, each ended; the failure is its stage's.
    for name, rows in histories.items():
        assert rows, name
        assert all(row["terminated"] for row in rows), (name, rows)
    assert histories["workflow.yaml"][1]["name"] == "RunWaitEvent"
    assert len(histories["workflow.yaml"]) == 3
    assert "error" in histories["failing-workflow.yaml"][0]

    # Where the money went, exactly.
    meta = sandbox.call("GET", "/api/ledger/v2/main/accounts/users:777")["data"]["metadata"]
    assert meta["foo"] == "bar"
    assert sandbox.balance("other", "users:002") == AMOUNT
    assert sandbox.balance("main", "users:001") == 0
    assert sandbox.balance(target_ledger, f"wallets:{target}:main") == AMOUNT
    assert sandbox.balance(payin_ledger, f"wallets:{payin}:main") == AMOUNT
    assert sandbox.balance(payout_ledger, f"wallets:{payout}:main") == 0
    assert sandbox.balance("main", "liabilities:payouts-pending") == AMOUNT
    assert sandbox.balance("main", "users:042") == -AMOUNT
    assert sandbox.balance("main", "users:003") == AMOUNT
    assert sandbox.balance("main", "tmp:1") == 0
    transfers = {t["destinationAccountID"]: t for t in sandbox.transfers()}
    assert set(transfers) == {"acct_w", "acct_042"}
    assert transfers["acct_042"]["amount"] == AMOUNT
    assert transfers["acct_042"]["sourceAccountID"] == "acct_src"
    assert transfers["acct_w"]["amount"] == AMOUNT

    # Stage history: the activities of 6.2, in order.
    assert activities["ledger-to-ledger.yaml"] == ["CreateTransaction", "CreateTransaction"]
    assert activities["wallet-to-payout.yaml"] == [
        "GetWallet",
        "DebitWallet",
        "CreateTransferInitiation",
    ]
    assert activities["payout-with-tracking.yaml"] == [
        "GetAccount",
        "CreateTransaction",
        "CreateTransferInitiation",
    ]

    # The three-stage example's lifecycle, in the order of 10.2.
    key = ids["workflow.yaml"]
    seen = await _read_events(
        stack, lambda s: any(t == "SUCCEEDED_WORKFLOW" for t, _ in _of(s, key))
    )
    types = [(t, p.get("number")) for t, p in _of(seen, key)]
    assert types == [
        ("STARTED_WORKFLOW", None),
        ("STARTED_WORKFLOW_STAGE", 0),
        ("SUCCEEDED_WORKFLOW_STAGE", 0),
        ("STARTED_WORKFLOW_STAGE", 1),
        ("SUCCEEDED_WORKFLOW_STAGE", 1),
        ("STARTED_WORKFLOW_STAGE", 2),
        ("SUCCEEDED_WORKFLOW_STAGE", 2),
        ("SUCCEEDED_WORKFLOW", None),
    ]
