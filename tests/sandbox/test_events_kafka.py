"""The sandbox process publishing its events to a real local Kafka broker."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from compose.localstack import free_port
from streams import KafkaSettings, codec, ensure_topics
from tests.sandbox.conftest import Start

pytestmark = pytest.mark.integration

BIG = 2**70 + 3


async def records(settings: KafkaSettings, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=f"check-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + 30
        while len(found) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            found.extend(r for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    return found


async def test_sandbox_writes_publish_envelopes_on_the_inbound_topics(
    start_sandbox: Start, make_kafka_settings: Callable[..., KafkaSettings]
) -> None:
    settings = make_kafka_settings()
    await ensure_topics(settings)
    ledger_topic, payments_topic = settings.topics
    url = start_sandbox(
        "--kafka-bootstrap",
        settings.kafka_bootstrap_servers,
        env={"ORCHESTRATION_TOPICS": " ".join(settings.topics)},
    )
    posting = {"source": "world", "destination": "users:1", "asset": "EUR/2", "amount": BIG}
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/api/ledger/v2/main")).status_code == 204
        path = "/api/ledger/v2/main/transactions"
        made = await http.post(path, content=codec.dumps({"postings": [posting]}))
        assert made.status_code == 200
        meta = await http.post(
            "/api/ledger/v2/main/accounts/users:1/metadata", content=codec.dumps({"k": "v"})
        )
        assert meta.status_code == 204
        payment = {"id": "pay_1", "reference": "py_1", "asset": "EUR/2", "amount": BIG}
        paid = await http.post("/api/payments/payments", content=codec.dumps(payment))
        assert paid.status_code == 200
        ledger_records = await records(settings, ledger_topic, 2)
        payment_records = await records(settings, payments_topic, 1)
        deadline = time.monotonic() + 30
        while True:
            # The broker's acknowledgements may land just after the records show.
            counts = codec.loads((await http.get("/_sandbox/events")).content)
            if counts["pending"] == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    # No key, as the services write them: the two land on any partitions, so
    # their order on the topic is not theirs.
    by_type = {e["type"]: e for e in (codec.loads(r.value) for r in ledger_records)}
    committed, saved = by_type["COMMITTED_TRANSACTIONS"], by_type["SAVED_METADATA"]
    assert committed["type"] == "COMMITTED_TRANSACTIONS"
    assert (committed["app"], committed["version"]) == ("ledger", "v2")
    [tx] = committed["payload"]["transactions"]
    assert tx["postings"] == [posting]
    assert tx["postings"][0]["amount"] == BIG  # exact: 2^70+3 is no float
    assert tx["postCommitVolumes"]["users:1"]["EUR/2"]["balance"] == BIG
    assert saved["type"] == "SAVED_METADATA"
    assert saved["payload"]["targetId"] == "users:1"
    [paid_record] = payment_records
    paid_event = codec.loads(paid_record.value)
    assert (paid_event["type"], paid_event["payload"]["amount"]) == ("SAVED_PAYMENT", BIG)
    # As the Formance services write through Watermill: no key, a message uuid header.
    for record in [*ledger_records, *payment_records]:
        assert record.key is None
        assert uuid.UUID(dict(record.headers)["_watermill_message_uuid"].decode())
    assert counts == {
        "enabled": True,
        "topics": {"ledger": ledger_topic, "payments": payments_topic},
        "published": 3,
        "failed": 0,
        "pending": 0,
    }


def test_writes_succeed_while_the_broker_is_unreachable(start_sandbox: Start) -> None:
    # Nothing listens on this port: events wait (and are retried), calls answer.
    url = start_sandbox("--kafka-bootstrap", f"127.0.0.1:{free_port()}")
    assert httpx.post(f"{url}/api/ledger/v2/main").status_code == 204
    posting = {"source": "world", "destination": "a", "asset": "EUR/2", "amount": BIG}
    body = codec.dumps({"postings": [posting]})
    made = httpx.post(f"{url}/api/ledger/v2/main/transactions", content=body, timeout=10)
    assert made.status_code == 200
    assert codec.loads(made.content)["data"]["postings"][0]["amount"] == BIG
    counts = codec.loads(httpx.get(f"{url}/_sandbox/events").content)
    assert (counts["enabled"], counts["published"]) == (True, 0)
    assert counts["pending"] + counts["failed"] == 1


def test_events_are_off_without_a_bootstrap(start_sandbox: Start) -> None:
    url = start_sandbox()
    assert codec.loads(httpx.get(f"{url}/_sandbox/events").content) == {"enabled": False}
