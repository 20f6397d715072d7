"""`streams.ensure_topics` against the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from streams import KafkaSettings, Topics, ensure_topics
from streams.topics import partition_count, reader
from tests.streams.kafka_helpers import create_topic, read_topic, topic_configs, topic_partitions

pytestmark = pytest.mark.integration


def all_names(topics: Topics) -> list[str]:
    return [
        *topics.inbound,
        topics.definitions,
        topics.commands,
        topics.history,
        topics.occurrences,
        topics.events,
        topics.dead_letter,
    ]


async def test_ensure_topics_creates_every_topic_with_the_configured_partitions(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings(partitions=3)
    bootstrap = settings.kafka_bootstrap_servers

    topics = await ensure_topics(settings)

    assert topics == Topics.from_settings(settings)
    for name in all_names(topics):
        expected = 1 if name == topics.definitions else 3
        assert await topic_partitions(bootstrap, name) == expected, name
    definitions = await topic_configs(bootstrap, topics.definitions)
    assert definitions["cleanup.policy"] == "compact"
    assert definitions["min.compaction.lag.ms"] == "60000"
    assert (await topic_configs(bootstrap, topics.commands))["cleanup.policy"] == "delete"


async def test_ensure_topics_twice_changes_nothing(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    bootstrap = settings.kafka_bootstrap_servers
    topics = await ensure_topics(settings)
    names = all_names(topics)
    # A record in every topic: a topic deleted and created again would lose it.
    async with AIOKafkaProducer(bootstrap_servers=bootstrap) as producer:
        for name in names:
            await producer.send_and_wait(name, b"v", key=b"k")

    again = await ensure_topics(settings)

    assert again == topics
    for name in names:
        assert [r.value for r in await read_topic(bootstrap, name)] == [b"v"], name
        expected = 1 if name == topics.definitions else settings.partitions
        assert await topic_partitions(bootstrap, name) == expected


async def test_ensure_topics_leaves_an_existing_topic_as_it_is(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    """An inbound topic made elsewhere keeps its partition count.

    That count, not `settings.partitions`, is what a faust table keyed by
    its events must match (see test_faust_partitions.py).
    """
    settings = make_kafka_settings(partitions=4)
    bootstrap = settings.kafka_bootstrap_servers
    existing = settings.topics[0]
    await create_topic(bootstrap, existing, partitions=1)

    topics = await ensure_topics(settings)

    assert await topic_partitions(bootstrap, existing) == 1
    assert await topic_partitions(bootstrap, topics.inbound[1]) == 4
    assert await topic_partitions(bootstrap, topics.commands) == 4


async def test_partition_count_waits_for_a_topic_created_a_moment_later(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    name = f"late-{uuid.uuid4().hex[:8]}"

    async def create_later() -> None:
        await asyncio.sleep(0.6)
        await create_topic(settings.kafka_bootstrap_servers, name, partitions=5)

    creator = asyncio.create_task(create_later())
    assert await partition_count(settings, name, wait_s=30) == 5
    await creator


async def test_partition_count_names_the_topic_when_it_never_appears(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    with pytest.raises(RuntimeError, match=r"'never-there' cannot be described: Kafka error 3"):
        await partition_count(settings, "never-there", wait_s=0.5)


async def test_a_readers_default_reset_goes_to_the_beginning(kafka_bootstrap: str) -> None:
    """A reader that falls behind the log start (retention mid-read) is reset
    with its default strategy: it must be the beginning, never the end. Here
    no seek at all: the position is where the default reset puts it."""
    topic = await create_topic(kafka_bootstrap, f"reader-{uuid.uuid4().hex[:8]}", partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(6):
            await producer.send_and_wait(topic, str(n).encode(), partition=n % 2)
    finally:
        await producer.stop()
    consumer = reader(KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap))
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(2)]
        consumer.assign(tps)
        assert [await consumer.position(tp) for tp in tps] == [0, 0]
        assert (await consumer.end_offsets(tps)) == dict.fromkeys(tps, 3)
    finally:
        await consumer.stop()
