"""A batch loop with records waiting and no progress is reported stalled, and recovers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from engine.worker.probes import probe_app
from streams import BatchConsumer, KafkaSettings, Record
from streams.batches import stalled_for
from tests.streams.kafka_helpers import create_topic, eventually, unique


@pytest.mark.unit
def test_the_stall_rule_needs_records_waiting_and_the_limit_passed() -> None:
    assert stalled_for(5, progress_at=100.0, now=219.0, limit=120.0) is None
    assert stalled_for(5, progress_at=100.0, now=220.0, limit=120.0) == 120.0
    assert stalled_for(1, progress_at=0.0, now=1_000.0, limit=120.0) == 1_000.0
    # Caught up: an idle loop is never stalled, however long nothing came.
    assert stalled_for(0, progress_at=0.0, now=1_000.0, limit=120.0) is None


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.integration
async def test_a_blocked_handler_with_records_waiting_fails_healthz_until_it_progresses(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    bootstrap = settings.kafka_bootstrap_servers
    topic = await create_topic(bootstrap, unique("stalls"), partitions=1)
    clock = Clock()
    release = asyncio.Event()
    handled: list[int] = []

    async def blocked(records: Sequence[Record]) -> None:
        await release.wait()  # a database that does not answer
        handled.extend(r.offset for r in records)

    consumer = BatchConsumer(
        settings,
        [topic],
        blocked,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        name="project",
        clock=clock,
    )

    async def stalls() -> Mapping[str, str]:
        found = await consumer.stalled(limit=120.0)
        return {} if found is None else {consumer.loop.name: f"{found[0]} waiting"}

    transport = httpx.ASGITransport(app=probe_app(lambda: [consumer.loop], asyncio.Event(), stalls))
    await consumer.start()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:

            async def assigned() -> bool:
                return consumer.assigned.is_set()

            await eventually(assigned, what="the partition assigned")
            assert (await client.get("/healthz")).status_code == 200
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            try:
                for i in range(3):
                    await producer.send_and_wait(topic, str(i).encode())
            finally:
                await producer.stop()

            # The high watermark is as of the consumer's last fetch: at least
            # the blocked batch is known to wait, maybe not every record yet.
            async def waiting() -> bool:
                return sum((await consumer.lag()).values()) > 0

            await eventually(waiting, what="records waiting on the blocked batch")
            clock.now += 119.0
            assert (await client.get("/healthz")).status_code == 200
            clock.now += 1.0
            stalled = await client.get("/healthz")
            assert stalled.status_code == 503
            body = stalled.json()
            assert body["status"] == "stalled"
            assert list(body["loops"]) == ["project-loop"]
            reported = int(body["loops"]["project-loop"].split()[0])
            assert 1 <= reported <= 3
            await client.get("/metrics")
            labels = {"loop": "project-loop", "topic": topic, "partition": "0"}
            lag = REGISTRY.get_sample_value("orchestration_consumer_lag_records", labels)
            assert lag is not None
            assert 1 <= lag <= 3

            release.set()

            async def caught_up() -> bool:
                healthy = (await client.get("/healthz")).status_code == 200
                await client.get("/metrics")
                lag = REGISTRY.get_sample_value("orchestration_consumer_lag_records", labels)
                return healthy and lag == 0

            # The records may come in more than one batch: wait for all of them.
            await eventually(caught_up, what="/healthz 200 and no lag once the batches completed")
            assert handled == [0, 1, 2]
    finally:
        await consumer.stop()
