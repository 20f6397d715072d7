"""Small aiokafka helpers shared by the broker proofs: topics, reads, deadlines.

Every wait here is a poll loop with a deadline: a broken broker or client
fails the test with a message instead of hanging it until pytest-timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams import KafkaSettings
from streams.topics import partition_count, scan

T = TypeVar("T")

# Generous for two cores: a group join on a fresh broker takes well under a
# second, a session-timeout eviction about 6-10 s.
DEFAULT_DEADLINE = 60.0


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}"


async def create_topic(
    bootstrap: str,
    name: str,
    *,
    partitions: int,
    configs: Mapping[str, str] | None = None,
) -> str:
    """Create `name` with an explicit partition count; fail loudly on any error."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    name=name,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs=dict(configs or {}),
                )
            ]
        )
        # create_topics reports per-topic error codes instead of raising.
        for topic, code, *_ in response.topic_errors:
            assert code == 0, f"creating {topic} failed with Kafka error {code}"
    finally:
        await admin.close()
    return name


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    what: str,
    deadline: float = DEFAULT_DEADLINE,
    interval: float = 0.1,
) -> T:
    """Poll `probe` until it returns something other than None or False."""
    end = time.monotonic() + deadline
    while True:
        result = await probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    isolation_level: str = "read_uncommitted",
    deadline: float = DEFAULT_DEADLINE,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` visible at the given isolation level.

    Reads from the beginning up to the end offsets taken at the start (for
    read_committed that is the last stable offset), so "nothing more" is a
    position reached, not a silence waited out (`streams.topics.scan`).
    """
    settings = KafkaSettings(kafka_bootstrap_servers=bootstrap)
    committed_only = isolation_level == "read_committed"

    async def read() -> list[ConsumerRecord[bytes, bytes]]:
        async with contextlib.aclosing(scan(settings, topic, committed_only=committed_only)) as rs:
            return [record async for record in rs]

    try:
        return await asyncio.wait_for(read(), deadline)
    except TimeoutError:
        raise AssertionError(f"timed out after {deadline:.0f}s reading {topic}") from None


async def topic_partitions(bootstrap: str, topic: str) -> int:
    """The partition count of an existing topic, straight from the broker."""
    return await partition_count(KafkaSettings(kafka_bootstrap_servers=bootstrap), topic, wait_s=0)


async def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: int
) -> dict[int, int]:
    """The group's committed offset per partition of `topic` (-1: none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    found = {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
    return {p: found.get(p, -1) for p in range(partitions)}


async def topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    """The topic's effective configuration (explicit and default values)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
    finally:
        await admin.close()
    ((code, message, _type, _name, entries),) = response.resources
    assert code == 0, f"describe_configs({topic}): Kafka error {code} {message}"
    return {name: value for name, value, *_ in entries}


async def publish(bootstrap: str, topic: str, events: list[tuple[bytes, int]]) -> None:
    """One `{}` record per (key, partition), acked by the broker before returning.

    Explicit partitions keep every key on one partition, as a key hash would,
    without depending on which partition the hash picks.
    """
    async with AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all") as producer:
        for key, partition in events:
            await producer.send(topic, b"{}", key=key, partition=partition)
