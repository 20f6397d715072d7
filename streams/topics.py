"""Topic names and their creation.

Topics are created up front with an explicit partition count: a source topic
auto-created by the first consumer makes faust crash with PartitionsMismatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.batches import Record
from streams.settings import FETCH_MAX_BYTES, RECORD_BATCH_OVERHEAD, KafkaSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Topics:
    """The names of every topic the service reads or writes."""

    inbound: tuple[str, ...]
    definitions: str
    commands: str
    # The instance runtime's records, written in Kafka transactions.
    history: str
    # The matcher's occurrence records, written without transactions. Apart
    # from `history` because a read-committed reader of a partition stops at
    # its first open transaction: the runtime keeps one open on every history
    # partition it writes most of the time, and occurrences sharing those
    # partitions waited for them (p99 produce -> visible 658 ms at 1,000
    # events/s, 273 ms with the two apart, benchmarks/pipeline.py).
    occurrences: str
    events: str
    dead_letter: str
    # Compacted changelog of the instance runtime's state, keyed by instance id.
    instances: str = ""

    @classmethod
    def from_settings(cls, settings: KafkaSettings) -> Topics:
        p = settings.topic_prefix
        return cls(
            inbound=tuple(settings.topics),
            definitions=f"{p}orchestration.definitions",
            commands=f"{p}orchestration.commands",
            history=f"{p}orchestration.history",
            events=f"{p}orchestration",
            dead_letter=f"{p}orchestration.dead-letter",
            instances=f"{p}orchestration.instances",
            occurrences=f"{p}orchestration.occurrences",
        )

    def new_topics(self, partitions: int, max_record_bytes: int = 1_048_576) -> list[NewTopic]:
        # The broker's default message.max.bytes (~1 MiB) is below what a
        # history record may reach (an event of up to max_event_bytes plus its
        # variables): such a send failed and left the idempotent producer
        # failing every later batch.
        limits = {"max.message.bytes": str(max_record_bytes + RECORD_BATCH_OVERHEAD)}

        def keyed(name: str) -> NewTopic:
            return NewTopic(
                name=name, num_partitions=partitions, replication_factor=1, topic_configs=limits
            )

        # One partition keeps workflow and trigger definitions in API order
        # (a trigger never overtakes the workflow it names); compaction keeps
        # the latest definition per key forever, tombstones drop deleted ones.
        definitions = NewTopic(
            name=self.definitions,
            num_partitions=1,
            replication_factor=1,
            topic_configs={"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
        )
        # Same partition count as the commands topic and the same key: the
        # changelog partition of an instance is its commands partition.
        changelog = [
            NewTopic(
                name=self.instances,
                num_partitions=partitions,
                replication_factor=1,
                topic_configs={"cleanup.policy": "compact"},
            )
        ]
        names = [*self.inbound, self.commands, self.history, self.occurrences, self.events]
        names.append(self.dead_letter)
        keyed_topics = [keyed(n) for n in dict.fromkeys(names)]
        return [definitions, *keyed_topics, *(changelog if self.instances else [])]


async def ensure_topics(settings: KafkaSettings, topics: Topics | None = None) -> Topics:
    """Create every missing topic; existing ones are left as they are."""
    topics = topics or Topics.from_settings(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = topics.new_topics(settings.partitions, settings.max_record_bytes)
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            # create_topics reports per-topic errors instead of raising; 36 is
            # TOPIC_ALREADY_EXISTS (another worker won the race), which is fine.
            for name, code, *_ in response.topic_errors:
                if code not in (0, 36):
                    raise RuntimeError(f"creating topic {name!r} failed with Kafka error {code}")
            log.info("topics.created", topics=[t.name for t in missing])
    finally:
        await admin.close()
    return topics


# Kafka error code of an unknown topic or partition.
UNKNOWN_TOPIC = 3


async def partition_count(settings: KafkaSettings, topic: str, *, wait_s: float = 30.0) -> int:
    """Partitions of an existing topic (a group-less consumer has no metadata to ask).

    A topic created a moment ago may not be known to the broker answering yet
    (error 3, unknown topic, for up to a few hundred ms in KRaft): ask again
    every 200 ms for up to `wait_s` before giving up.
    """
    deadline = asyncio.get_running_loop().time() + wait_s
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        while True:
            (described,) = await admin.describe_topics([topic])
            code = described["error_code"]
            if code == 0 and described["partitions"]:
                break
            if code not in (0, UNKNOWN_TOPIC) or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"topic {topic!r} cannot be described: Kafka error {code}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    return len(described["partitions"])


def reader(settings: KafkaSettings, *, committed_only: bool = False) -> AIOKafkaConsumer:
    """A group-less consumer (not started) for partitions read from their
    beginning with `assign` + `seek_to_beginning`.

    Every reset it makes goes to the earliest offset, not aiokafka's default
    latest. A reader falls behind the log start when retention deletes the
    oldest segment mid-read (the dead-letter topic keeps 7 days); aiokafka
    then resets with that default, and a latest reset would skip to the end:
    the rest of the read lost, silently. Records up to a history record's size
    are fetched whole.
    """
    fetch_bytes = settings.max_record_bytes + RECORD_BATCH_OVERHEAD
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed" if committed_only else "read_uncommitted",
        max_partition_fetch_bytes=fetch_bytes,
        fetch_max_bytes=max(fetch_bytes, FETCH_MAX_BYTES),
    )


async def scan(
    settings: KafkaSettings,
    topic: str,
    *,
    committed_only: bool = False,
    partitions: Iterable[int] | None = None,
) -> AsyncGenerator[Record, None]:
    """Every record of an existing `topic` (of its `partitions`, default all),
    from the beginning to the end offsets taken when the read starts,
    group-less (`assign`: it commits nothing and never disturbs a consumer
    group). In order within a partition; partitions interleave.

    `committed_only`: skip records of aborted transactions.
    """
    if partitions is None:
        partitions = range(await partition_count(settings, topic, wait_s=5))
    consumer = reader(settings, committed_only=committed_only)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        # Under read_committed the end is the last stable offset: markers of a
        # transaction still open are not waited for (a fenced one is aborted).
        remaining = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < ends[tp]:
                        yield r
            remaining = [tp for tp in remaining if await consumer.position(tp) < ends[tp]]
    finally:
        await consumer.stop()
