"""`streams.producers.send_batched` against the real broker: every record once,
on the partition `send` picks for its key, in order within each partition,
committed or aborted with its transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from streams import KafkaSettings
from streams.producers import BATCH_BYTES, OutRecord, create_producer, send_batched
from tests.streams.kafka_helpers import read_topic

pytestmark = pytest.mark.integration


def records(topics: list[str]) -> list[OutRecord]:
    """Interleaved keys over two topics, a tombstone, and records larger than
    aiokafka's 16 KiB batch (one of them alone in a batch of its own)."""
    out: list[OutRecord] = []
    for n in range(300):
        key = f"inst-{n % 37}_1".encode()
        size = 40_000 if n % 97 == 5 else 300
        headers = [("n", str(n).encode())] if n % 3 == 0 else []
        out.append((topics[n % 2], key, f"{n:05d}".encode() + b"x" * size, headers))
    out.append((topics[0], b"inst-3_1", None, ()))
    return out


async def test_batched_records_land_like_sends_in_order_and_commit_with_the_transaction(
    kafka_bootstrap: str, make_topic: Callable[..., Awaitable[str]]
) -> None:
    topics = [
        await make_topic("batched-a", partitions=4),
        await make_topic("batched-b", partitions=3),
    ]
    sent = records(topics)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        enable_idempotence=True,
        transactional_id=f"batched-{uuid.uuid4().hex[:8]}",
        max_request_size=1_048_576,
    )
    await producer.start()
    try:
        async with producer.transaction():
            await send_batched(producer, sent)
        # An aborted transaction's batches are never read.
        await producer.begin_transaction()
        await send_batched(producer, [(topics[0], b"inst-1_1", b"aborted", ())])
        await producer.abort_transaction()
    finally:
        await producer.stop()

    default = DefaultPartitioner()
    for topic, count in zip(topics, (4, 3), strict=True):
        read = await read_topic(kafka_bootstrap, topic, isolation_level="read_committed")
        mine = [(key, value) for t, key, value, _ in sent if t == topic]
        assert Counter((r.key, r.value) for r in read) == Counter(mine)
        headers = {r.value: list(r.headers) for r in read}
        for t, _, value, sent_headers in sent:
            if t == topic:
                assert headers[value] == [tuple(h) for h in sent_headers]
        partitions = list(range(count))
        for record in read:
            assert record.key is not None
            assert record.partition == default(record.key, partitions, partitions)
        # Per key (so within its partition), the order sent.
        for key in {k for k, _ in mine}:
            assert [r.value for r in read if r.key == key] == [v for k, v in mine if k == key]


async def test_the_project_producers_full_batches_fit_a_topic_at_the_broker_default_limit(
    kafka_bootstrap: str, make_topic: Callable[..., Awaitable[str]]
) -> None:
    """Every producer of the project batches up to BATCH_BYTES per partition
    (benchmarks/engine.py: 16 KB batches cost a quarter of a start's CPU). The
    broker refuses a batch over a topic's `max.message.bytes`, whose default
    (1 MB) an inbound or dead-letter topic made outside the project keeps:
    full batches, sent both ways, must land there, and one record bigger than
    a batch too."""
    topic = await make_topic("full-batches", partitions=2)
    producer = create_producer(KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap))
    per_way = 4 * BATCH_BYTES // 1000  # four full batches each way, 1 KB records
    sent: list[OutRecord] = [
        (topic, f"k{n % 2}".encode(), f"{n:06d}".encode() + b"x" * 994, ()) for n in range(per_way)
    ]
    big: OutRecord = (topic, b"big", b"y" * (BATCH_BYTES + 50_000), ())
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(t, v, key=k) for t, k, v, _ in sent])
        batched = [(t, k, b"b" + v, h) for t, k, v, h in sent]
        await asyncio.gather(*await send_batched(producer, [*batched, big]))
    finally:
        await producer.stop()
    read = await read_topic(kafka_bootstrap, topic)
    assert Counter((r.key, r.value) for r in read) == Counter(
        (k, v) for _, k, v, _ in [*sent, *batched, big]
    )
