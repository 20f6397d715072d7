"""What the end-to-end tests do to a running stack and read back from it.

Through the API: start an instance of an ad-hoc workflow, read the instance
and both histories, wait for a condition. Through Kafka: publish inbound
events, read the public lifecycle events. On the sandbox: seed ledgers,
wallets and payments, read balances, transactions and the call journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams import codec
from tests.e2e.conftest import Stack

# Seconds: generous on a shared 2-core machine, never asserted.
READ_TIMEOUT = 60


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30) -> Any:
    """`fetch()` every 0.2 s until `done` says so or `timeout` passed; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


async def publish(stack: Stack, *values: bytes) -> None:
    """Produce `values` to the stack's first inbound topic, in order."""
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(stack.kafka.topics[0], value)
    finally:
        await producer.stop()


def create_workflow(client: httpx.Client, stages: list[dict[str, Any]], **config: Any) -> str:
    created = client.post("/v2/workflows", json={"name": "e2e", "stages": stages, **config})
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["data"]["id"]
    return workflow_id


def create_trigger(
    client: httpx.Client, workflow_id: str, *, event: str = "COMMITTED_TRANSACTIONS", **body: Any
) -> str:
    """`POST /v2/triggers` for `event` (plus `filter`, `vars`, `name`, ... in `body`)."""
    created = client.post("/v2/triggers", json={"event": event, "workflowID": workflow_id, **body})
    assert created.status_code == 201, created.text
    trigger_id: str = created.json()["data"]["id"]
    return trigger_id


def occurrences(client: httpx.Client, trigger_id: str) -> list[dict[str, Any]]:
    """The trigger's occurrences (first page, v2)."""
    rows: list[dict[str, Any]] = client.get(f"/v2/triggers/{trigger_id}/occurrences").json()[
        "cursor"
    ]["data"]
    return rows


def run_workflow(client: httpx.Client, workflow_id: str, variables: dict[str, str]) -> str:
    run = client.post(f"/v2/workflows/{workflow_id}/instances", json=variables)
    assert run.status_code == 201, run.text
    instance_id: str = run.json()["data"]["id"]
    return instance_id


def start_instance(
    client: httpx.Client,
    stages: list[dict[str, Any]],
    variables: dict[str, str] | None = None,
    **config: Any,
) -> str:
    """A new workflow of `stages` (and `config` keys) and one instance of it."""
    return run_workflow(client, create_workflow(client, stages, **config), variables or {})


def instance(client: httpx.Client, instance_id: str) -> dict[str, Any]:
    response = client.get(f"/v2/instances/{instance_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def history(client: httpx.Client, instance_id: str) -> list[dict[str, Any]]:
    """The instance history (4.5): one entry per started stage."""
    response = client.get(f"/v2/instances/{instance_id}/history")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def stage_history(client: httpx.Client, instance_id: str, stage: int) -> list[dict[str, Any]]:
    """The stage history (4.6): one entry per activity; [] for a stage with none yet."""
    response = client.get(f"/v2/instances/{instance_id}/stages/{stage}/history")
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def terminated(client: httpx.Client, instance_id: str, timeout: float = 60) -> dict[str, Any]:
    """The instance once terminated (as it stands after `timeout`)."""
    done: dict[str, Any] = poll(
        lambda: instance(client, instance_id), lambda i: i["terminated"], timeout=timeout
    )
    return done


async def read_events(
    stack: Stack, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Every envelope on the events topic (with its key), until `done` says enough."""
    consumer = AIOKafkaConsumer(
        stack.topics.events,
        bootstrap_servers=stack.kafka.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + READ_TIMEOUT
        while not done(seen) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    seen.append({"key": (record.key or b"").decode(), **codec.loads(record.value)})
    finally:
        await consumer.stop()
    return seen


def events_of(seen: list[dict[str, Any]], key: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, payload) of the envelopes keyed `key`, in topic order."""
    return [(e["type"], e["payload"]) for e in seen if e["key"] == key]


class SandboxClient:
    """The sandbox over HTTP; JSON through `streams.codec` so big amounts stay exact."""

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

    def ledger(self, name: str) -> None:
        self.call("POST", f"/api/ledger/v2/{name}")

    def fund(self, ledger: str, account: str, amount: int, asset: str = "EUR/2") -> None:
        postings = [{"source": "world", "destination": account, "amount": amount, "asset": asset}]
        self.call("POST", f"/api/ledger/v2/{ledger}/transactions", {"postings": postings})

    def balance(self, ledger: str, account: str, asset: str = "EUR/2") -> int:
        got = self.call("GET", f"/api/ledger/v2/{ledger}/accounts/{account}?expand=volumes")
        volumes = got["data"].get("volumes", {}).get(asset, {"balance": 0})
        return int(volumes["balance"])

    def set_metadata(self, ledger: str, account: str, metadata: dict[str, str]) -> None:
        self.call("POST", f"/api/ledger/v2/{ledger}/accounts/{account}/metadata", metadata)

    def transactions(self, ledger: str) -> list[dict[str, Any]]:
        """Every transaction of `ledger`, oldest first."""
        rows: list[dict[str, Any]] = []
        path = f"/api/ledger/v2/{ledger}/transactions?pageSize=1000"
        while True:
            cursor = self.call("GET", path)["cursor"]
            rows.extend(cursor["data"])
            if not cursor.get("hasMore"):
                return list(reversed(rows))  # listed newest first
            path = f"/api/ledger/v2/{ledger}/transactions?pageSize=1000&cursor={cursor['next']}"

    def wallet(self, name: str, metadata: dict[str, str] | None = None) -> tuple[str, str]:
        """A new wallet: its id and its ledger."""
        made = self.call("POST", "/api/wallets/wallets", {"name": name, "metadata": metadata or {}})
        wallet_id: str = made["data"]["id"]
        ledger: str = self.call("GET", f"/api/wallets/wallets/{wallet_id}")["data"]["ledger"]
        return wallet_id, ledger

    def add_balance(self, wallet_id: str, balance: str) -> None:
        self.call("POST", f"/api/wallets/wallets/{wallet_id}/balances", {"name": balance})

    def wallet_balance(self, wallet_id: str, balance: str = "main", asset: str = "EUR/2") -> int:
        got = self.call("GET", f"/api/wallets/wallets/{wallet_id}/balances/{balance}")
        return int(got["data"]["assets"].get(asset, 0))

    def credit(self, wallet_id: str, amount: int, balance: str = "main") -> None:
        body = {"amount": {"amount": amount, "asset": "EUR/2"}, "balance": balance}
        self.call("POST", f"/api/wallets/wallets/{wallet_id}/credit", body)

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

    def transfers(self, **match: Any) -> list[dict[str, Any]]:
        """The transfer initiations whose fields equal `match` (all when none given)."""
        query = httpx.QueryParams({"query": codec.dumps({"$match": match}).decode()})
        path = f"/api/payments/transfer-initiations?{query}"
        rows: list[dict[str, Any]] = self.call("GET", path)["cursor"]["data"]
        return rows

    def journal(self) -> list[dict[str, Any]]:
        """Every stack call the sandbox answered, oldest first (`/_sandbox/log`)."""
        rows: list[dict[str, Any]] = self.call("GET", "/_sandbox/log")["data"]
        return rows
