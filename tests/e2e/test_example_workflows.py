"""Every upstream example workflow (BEHAVIOUR 5.9) on the sandbox, by the API and by a trigger.

One stack per route (API, worker, sandbox as real processes): each example is
created from its YAML and started either with `POST /v2/workflows/{id}/instances`
and its variables, or by an event published to Kafka that its trigger matches
(the trigger's `vars` read the variables out of the event, the amount as a
JSON number of 71 bits), then checked where it leaves its mark: balances and
metadata on the sandbox's ledger, wallets and payments, both histories, and
for the three-stage example the lifecycle events in order (with
`SUCCEEDED_TRIGGER` after `STARTED_WORKFLOW` for a triggered one, 10.2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from streams import codec
from tests.e2e.conftest import Stack
from tests.e2e.helpers import (
    SandboxClient,
    events_of,
    instance,
    occurrences,
    poll,
    publish,
    read_events,
    stage_history,
)
from tests.engine.config.test_config_examples import EXAMPLES
from tests.sandbox.conftest import start_sandbox

__all__ = ["start_sandbox"]  # the sandbox process fixture, shared

pytestmark = pytest.mark.e2e

SENDS = ("ledger-to-ledger.yaml", "wallet-to-payout.yaml", "payout-with-tracking.yaml")
AMOUNT = 2**70 + 5  # exact on every path, or the balances below are wrong

Starter = Callable[[Stack, httpx.Client, dict[str, dict[str, str]]], Any]


def _workflow(client: httpx.Client, name: str) -> str:
    created = client.post(
        "/v2/workflows", content=EXAMPLES[name], headers={"content-type": "text/vnd.yaml"}
    )
    assert created.status_code == 201, (name, created.text)
    workflow_id: str = created.json()["data"]["id"]
    return workflow_id


def _run(client: httpx.Client, name: str, variables: dict[str, str]) -> str:
    run = client.post(f"/v2/workflows/{_workflow(client, name)}/instances", json=variables)
    assert run.status_code == 201, (name, run.text)
    instance_id: str = run.json()["data"]["id"]
    return instance_id


async def _by_api(
    stack: Stack, client: httpx.Client, runs: dict[str, dict[str, str]]
) -> dict[str, str]:
    return {name: _run(client, name, variables) for name, variables in runs.items()}


def _event(example: str, variables: dict[str, str], number: int) -> bytes:
    """A ledger v2 `COMMITTED_TRANSACTIONS` carrying an example's variables: the
    amount as the posting's amount (a JSON number), the rest as transaction metadata."""
    amount = int(variables.get("amount", "1"))
    metadata = {k: v for k, v in variables.items() if k != "amount"}
    posting = {"source": "world", "destination": "orders", "amount": amount, "asset": "EUR/2"}
    return codec.dumps(
        {
            "idempotency_key": f"{example}-{number}",
            "date": "2025-03-04T09:00:01Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "payload": {
                "ledger": "orders",
                "transactions": [
                    {
                        "id": number,
                        "postings": [posting],
                        "metadata": {"example": example, **metadata},
                    }
                ],
            },
        }
    )


def _trigger(client: httpx.Client, example: str, workflow_id: str, names: list[str]) -> str:
    tx = "event.transactions[0]"
    variables = {
        n: f"{tx}.postings[0].amount" if n == "amount" else f"{tx}.metadata.{n}" for n in names
    }
    body: dict[str, Any] = {
        "name": example,
        "event": "COMMITTED_TRANSACTIONS",
        "version": "v2",
        "workflowID": workflow_id,
        "filter": f'{tx}.metadata.example == "{example}"',
    }
    if variables:
        body["vars"] = variables
    created = client.post("/v2/triggers", json=body)
    assert created.status_code == 201, (example, created.text)
    trigger_id: str = created.json()["data"]["id"]
    return trigger_id


async def _by_trigger(
    stack: Stack, client: httpx.Client, runs: dict[str, dict[str, str]]
) -> dict[str, str]:
    triggers = {
        name: _trigger(client, name, _workflow(client, name), sorted(variables))
        for name, variables in runs.items()
    }
    # Definitions reach the worker in API order (one partition): once a
    # trigger created last fires, it holds every trigger above.
    canary = _trigger(client, "canary", _workflow(client, "wait_event.yaml"), [])
    for attempt in range(20):
        await publish(stack, _event("canary", {}, attempt))
        if poll(lambda: occurrences(client, canary), bool, timeout=3):
            break
    await publish(stack, *(_event(name, v, n) for n, (name, v) in enumerate(runs.items())))
    ids = {}
    for name, trigger_id in triggers.items():
        found = poll(lambda t=trigger_id: occurrences(client, t), bool, timeout=60)
        assert len(found) == 1, (name, found)
        [occurrence] = found
        assert "error" not in occurrence, occurrence
        ids[name] = occurrence["workflowInstanceID"]
    return ids


def _activities(client: httpx.Client, instance_id: str, stage: int) -> list[str]:
    return [row["name"] for row in stage_history(client, instance_id, stage)]


@pytest.mark.parametrize("route", ["api", "trigger"])
async def test_every_upstream_example_runs_on_the_sandbox(
    run_stack: Callable[..., Stack], start_sandbox: Callable[..., str], route: str
) -> None:
    url = start_sandbox()
    starter = _by_api if route == "api" else _by_trigger
    with httpx.Client(base_url=url, timeout=30) as http:
        await _examples(run_stack(stack_url=url), SandboxClient(http), starter, route)


async def _examples(stack: Stack, sandbox: SandboxClient, starter: Starter, route: str) -> None:
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
        ids: dict[str, str] = await starter(stack, client, runs)
        # The two waiting examples get their events once they wait.
        for name, event in (("wait_event.yaml", "continue"), ("workflow.yaml", "processed")):
            stage = 0 if name == "wait_event.yaml" else 1
            poll(
                lambda n=name, s=stage: [
                    r for r in instance(client, ids[n]).get("status", []) if r["stage"] == s
                ],
                bool,
                timeout=60,
            )
            await asyncio.sleep(0.5)  # the stage's wait is recorded before its status row lands
            sent = client.post(f"/v2/instances/{ids[name]}/events", json={"name": event})
            assert sent.status_code == 204, sent.text
        done = {
            name: poll(lambda i=iid: instance(client, i), lambda i: i["terminated"], timeout=90)
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
    seen = await read_events(
        stack, lambda s: any(t == "SUCCEEDED_WORKFLOW" for t, _ in events_of(s, key))
    )
    events = events_of(seen, key)
    types = [(t, p.get("number")) for t, p in events if t != "SUCCEEDED_TRIGGER"]
    triggered = [i for i, (t, _) in enumerate(events) if t == "SUCCEEDED_TRIGGER"]
    # 10.2: a triggered instance's occurrence is announced once, after STARTED_WORKFLOW.
    assert triggered == ([1] if route == "trigger" else [])
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
