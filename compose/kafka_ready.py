"""Wait for a fresh broker to be ready for the worker, before starting it.

A broker that just said STARTED still elects partition leaders for topics
created a moment ago, and creates `__consumer_offsets` only on the first
FindCoordinator. A worker started into that window logs aiokafka errors
(NotLeaderForPartition, GroupCoordinatorNotAvailable) that it then recovers
from: noise on every `orchestration dev`, and it trains people to ignore
error lines. So the dev stack creates the topics itself and waits until each
partition has a leader and the consumer group has a coordinator.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from compose.localstack import LocalStackError
from streams import KafkaSettings
from streams.topics import Topics, ensure_topics

_OFFSETS_TOPIC = "__consumer_offsets"


def leaderless(described: list[dict[str, Any]]) -> list[str]:
    """Topics, of a metadata answer, with an error or a partition without a leader."""
    return [
        str(topic["topic"])
        for topic in described
        if topic["error_code"]
        or not topic["partitions"]
        or any(p["error_code"] or p["leader"] < 0 for p in topic["partitions"])
    ]


async def wait_for_kafka(settings: KafkaSettings, *, within_s: float = 60) -> None:
    """Create the service's topics; return once they and the group coordinator are usable."""
    topics = await ensure_topics(settings, Topics.from_settings(settings))
    names = [*(t.name for t in topics.new_topics(settings.partitions)), _OFFSETS_TOPIC]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    deadline = time.monotonic() + within_s
    try:
        while True:
            try:
                # The first call makes the broker create __consumer_offsets.
                await admin.find_coordinator(settings.consumer_group)
                waiting = leaderless(await admin.describe_topics(names))
            except KafkaError as exc:
                waiting = [f"group coordinator ({type(exc).__name__})"]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"Kafka not ready after {within_s:.0f}s: waiting for {waiting}"
                )
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
