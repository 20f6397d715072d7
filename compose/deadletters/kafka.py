"""Reading the dead-letter topic and replaying it, on a real broker.

Reads are group-less (`assign` + seek to the beginning, up to the end offsets
taken when the read starts): listing or replaying commits nothing and never
disturbs a consumer group.

Replayed dead letters are remembered in a compacted marker topic,
`<prefix>orchestration.dead-letter.replayed`, keyed by the dead letter's
coordinates, rather than in a consumer group's offset: an offset can only
say "everything before N", and `replay --reason R` skips the letters it does
not select, which a later `replay` must still find. Each re-injected record
and its marker are one Kafka transaction, so a replay killed half-way neither
loses a marker (a second injection) nor leaves a marker without its record.
The transactional id is fixed per dead-letter topic: starting a replay fences
any older one still running, and the markers are read only after that, so
two concurrent replays cannot both inject the same letter.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, ProducerFenced

from compose.deadletters.letters import DeadLetter, Outcome, Source, decide
from streams import KafkaSettings, Topics, codec
from streams.producers import create_producer
from streams.settings import RECORD_BATCH_OVERHEAD
from streams.topics import scan


def marker_topic(topics: Topics) -> str:
    return f"{topics.dead_letter}.replayed"


def transactional_id(topics: Topics) -> str:
    return f"{topics.dead_letter}.replay"


async def existing_topics(settings: KafkaSettings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def ensure_marker_topic(settings: KafkaSettings, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        if name in set(await admin.list_topics()):
            return
        # One partition: the whole set is read before each replay, in key order
        # nobody needs; compaction keeps one marker per dead letter forever.
        topic = NewTopic(
            name=name,
            num_partitions=1,
            replication_factor=1,
            topic_configs={"cleanup.policy": "compact"},
        )
        response = await admin.create_topics([topic])
        for topic_name, code, *_ in response.topic_errors:
            if code not in (0, 36):  # 36: created meanwhile by another replay
                raise RuntimeError(f"creating topic {topic_name!r} failed with Kafka error {code}")
    finally:
        await admin.close()


async def dead_letters(settings: KafkaSettings) -> AsyncGenerator[DeadLetter, None]:
    """The dead-letter topic's records; none when the topic does not exist yet."""
    topics = Topics.from_settings(settings)
    if topics.dead_letter not in await existing_topics(settings):
        return
    async with contextlib.aclosing(scan(settings, topics.dead_letter)) as records:
        async for r in records:
            yield DeadLetter.from_record(
                r.topic, r.partition, r.offset, r.timestamp, r.headers, r.value
            )


async def replayed_markers(settings: KafkaSettings, topics: Topics) -> set[str]:
    """Coordinates of the dead letters already replayed (the marker topic's keys)."""
    name = marker_topic(topics)
    if name not in await existing_topics(settings):
        return set()
    markers = set()
    async with contextlib.aclosing(scan(settings, name, committed_only=True)) as records:
        async for marker in records:
            if marker.key is not None:
                markers.add(marker.key.decode())
    return markers


@dataclass(frozen=True, slots=True)
class Step:
    """One selected dead letter and what became of it (`error`: the send failed)."""

    letter: DeadLetter
    outcome: Outcome
    error: str | None = None


class ReplayFenced(RuntimeError):
    """Another `dead-letters replay` started meanwhile and took over."""


async def replay(
    settings: KafkaSettings,
    *,
    reason: str | None,
    dry_run: bool,
    progress: Callable[[Step], None],
) -> None:
    """Re-inject each selected, not yet replayed dead letter into its source topic."""
    topics = Topics.from_settings(settings)
    present = await existing_topics(settings)
    if topics.dead_letter not in present:
        return
    producer = None
    if not dry_run:
        await ensure_marker_topic(settings, marker_topic(topics))
        producer = create_producer(
            settings,
            linger_ms=0,
            max_request_size=settings.max_record_bytes + RECORD_BATCH_OVERHEAD,
            transactional_id=transactional_id(topics),
        )
        await producer.start()  # fences an older replay: read the markers after it
    try:
        replayed = await replayed_markers(settings, topics)
        async with contextlib.aclosing(dead_letters(settings)) as letters:
            async for letter in letters:
                if not letter.matches(reason):
                    continue
                outcome = decide(letter, replayed, present)
                if outcome is not Outcome.REPLAY or producer is None:
                    progress(Step(letter, outcome))
                    continue
                source = Source.parse(letter.source)
                assert source is not None  # decide() said REPLAY
                marker = codec.dumps({"dead_letter": letter.coordinates, "source": letter.source})
                try:
                    await _send_once(producer, source.topic, letter, marker_topic(topics), marker)
                except ProducerFenced as exc:
                    raise ReplayFenced(str(exc)) from exc
                except KafkaError as exc:
                    progress(Step(letter, outcome, error=f"{type(exc).__name__}: {exc}"))
                    continue
                replayed.add(letter.coordinates)
                progress(Step(letter, outcome))
    finally:
        if producer is not None:
            await producer.stop()


async def _send_once(
    producer: AIOKafkaProducer, topic: str, letter: DeadLetter, markers: str, marker: bytes
) -> None:
    """The letter's record and its marker, committed together or not at all."""
    await producer.begin_transaction()
    try:
        sent = [
            await producer.send(topic, value=letter.value, headers=letter.replay_headers()),
            await producer.send(markers, key=letter.coordinates.encode(), value=marker),
        ]
        # Delivery errors surface here, before the commit, so that the
        # transaction can still be aborted (a failed commit leaves it open).
        await asyncio.gather(*sent)
        await producer.commit_transaction()
    except BaseException:
        # A fatal state (fenced) cannot abort; the next begin says so.
        with contextlib.suppress(KafkaError):
            await producer.abort_transaction()
        raise
