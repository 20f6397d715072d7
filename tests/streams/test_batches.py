"""BatchConsumer: offsets are committed after the handler, never before."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams import BatchConsumer, KafkaSettings, Record

pytestmark = pytest.mark.integration


async def make_topic(bootstrap: str, values: int) -> str:
    topic = f"batches-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(values):
            await producer.send_and_wait(topic, str(i).encode())
    finally:
        await producer.stop()
    return topic


async def committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        offset: int | None = await consumer.committed(TopicPartition(topic, 0))
        return offset
    finally:
        await consumer.stop()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.05)


async def test_a_failing_batch_is_read_again_and_nothing_is_skipped(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    bootstrap = settings.kafka_bootstrap_servers
    topic = await make_topic(bootstrap, 20)
    seen: list[int] = []
    failures = 0

    async def handler(records: Sequence[Record]) -> None:
        nonlocal failures
        values = [int(r.value or b"-1") for r in records]
        if failures < 2 and 7 in values:
            failures += 1
            raise RuntimeError("database down")
        seen.extend(values)

    group = f"g-{uuid.uuid4().hex[:8]}"
    consumer = BatchConsumer(settings, [topic], handler, group_id=group, name="test", max_records=5)
    await consumer.start()
    try:
        await until(lambda: len(set(seen)) == 20)
        await until(lambda: failures == 2)
    finally:
        await consumer.stop()
    assert sorted(set(seen)) == list(range(20))
    # The failed batch was handled exactly once in the end (redelivery only
    # after failures, and the failure happened before any value was kept).
    assert len(seen) == 20
    assert await committed(bootstrap, group, topic) == 20


async def test_a_restarted_consumer_resumes_after_the_last_committed_batch(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    bootstrap = settings.kafka_bootstrap_servers
    topic = await make_topic(bootstrap, 10)
    group = f"g-{uuid.uuid4().hex[:8]}"
    first: list[int] = []

    async def record_first(records: Sequence[Record]) -> None:
        first.extend(int(r.value or b"-1") for r in records)

    consumer = BatchConsumer(settings, [topic], record_first, group_id=group, name="a")
    await consumer.start()
    try:
        await until(lambda: len(first) == 10)
        await until(lambda: consumer.assigned.is_set())
    finally:
        await consumer.stop()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(10, 15):
            await producer.send_and_wait(topic, str(i).encode())
    finally:
        await producer.stop()

    second: list[int] = []

    async def record_second(records: Sequence[Record]) -> None:
        second.extend(int(r.value or b"-1") for r in records)

    consumer = BatchConsumer(settings, [topic], record_second, group_id=group, name="b")
    await consumer.start()
    try:
        await until(lambda: len(second) >= 5)
    finally:
        await consumer.stop()
    assert first == list(range(10))
    assert second == list(range(10, 15))
