"""Runs one replay: reads the inbound topics over a time window, matches each
event against one trigger, and sends what the live matcher would send.

Reads without a consumer group (every partition assigned, nothing
committed), so the worker's group and offsets are untouched. Offsets come
from the broker's time index (`offsets_for_times`); the range ends at the
first record after `to`, or at the end offsets read at start, so a replay
always finishes even while events keep arriving. Each batch's sends are
acknowledged before the next batch is read: a replay that dies midway can
simply be run again (the ids are deterministic).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from engine.definitions import WorkflowDefinition
from engine.matching import MatchResult, match_records
from engine.replay import (
    PartitionOffsets,
    Progress,
    ReadPlan,
    kafka_records,
    occurrence_of,
    plan,
    single_trigger_index,
)
from streams import KafkaSettings, Topics
from streams.producers import create_producer
from streams.settings import RECORD_BATCH_OVERHEAD
from streams.topics import partition_count
from triggers import Trigger
from triggers.expr import Fetch

log = structlog.get_logger(__name__)

# Which of these occurrence ids are already recorded (the projection's answer).
KnownOccurrences = Callable[[Collection[str]], Awaitable[Collection[str]]]

# Same batch size as the live match loop: bounded memory, amortised acks.
BATCH = 1000
_POLL_MS = 500


async def read_plan(
    consumer: AIOKafkaConsumer, kafka: KafkaSettings, progress: Progress
) -> ReadPlan:
    window = progress.window
    partitions = [
        TopicPartition(topic, p)
        for topic in dict.fromkeys(Topics.from_settings(kafka).inbound)
        for p in range(await partition_count(kafka, topic))
    ]
    consumer.assign(partitions)
    beginning = await consumer.beginning_offsets(partitions)
    end = await consumer.end_offsets(partitions)
    at_start = await consumer.offsets_for_times({tp: window.start_ms for tp in partitions})
    end_ms = window.end_ms
    after_end = (
        await consumer.offsets_for_times({tp: end_ms + 1 for tp in partitions})
        if end_ms is not None
        else {}
    )
    offsets = []
    for tp in partitions:
        start = at_start.get(tp)
        stop = after_end.get(tp)
        offsets.append(
            PartitionOffsets(
                tp.topic,
                tp.partition,
                beginning=beginning[tp],
                end=end[tp],
                at_start=None if start is None else start.offset,
                after_end=None if stop is None else stop.offset,
            )
        )
    return plan(offsets, window)


async def run_replay(
    kafka: KafkaSettings,
    trigger: Trigger,
    workflow: WorkflowDefinition,
    progress: Progress,
    *,
    fetch: Fetch | None = None,
    on_batch: Callable[[Progress], None] | None = None,
    known: KnownOccurrences | None = None,
) -> Progress:
    """Replay `progress.window` into `trigger`, updating `progress` as it goes;
    marks it done (with the error, if one stopped it) and re-raises failures.

    `known`: occurrences it names are skipped (nothing sent). Without it, a
    re-matched event whose instance finished more than the runtime's 7 days
    ago would start that instance again.
    """
    log.info("replay.started", replay=progress.id, trigger=trigger.id)
    try:
        await _run(kafka, trigger, workflow, progress, fetch, on_batch, known)
    except asyncio.CancelledError:
        progress.finish("cancelled")
        raise
    except Exception as exc:
        progress.finish(f"{type(exc).__name__}: {exc}"[:500])
        raise
    progress.finish()
    log.info(
        "replay.finished",
        replay=progress.id,
        trigger=trigger.id,
        read=progress.read,
        occurrences=progress.occurrences,
        truncated=list(progress.truncated),
    )
    return progress


async def _run(
    kafka: KafkaSettings,
    trigger: Trigger,
    workflow: WorkflowDefinition,
    progress: Progress,
    fetch: Fetch | None,
    on_batch: Callable[[Progress], None] | None,
    known: KnownOccurrences | None,
) -> None:
    index = single_trigger_index(trigger, workflow)
    workflows = {workflow.id: workflow}
    topics = Topics.from_settings(kafka)

    def match(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[tuple[str, MatchResult]]:
        return match_records(
            records,
            index,
            max_bytes=kafka.max_event_bytes,
            max_record_bytes=kafka.max_record_bytes,
            fetch=fetch,
            workflows=workflows,
        )

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.kafka_bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        max_partition_fetch_bytes=kafka.max_record_bytes + RECORD_BATCH_OVERHEAD,
    )
    producer = create_producer(
        kafka, max_request_size=kafka.max_record_bytes + RECORD_BATCH_OVERHEAD
    )
    await consumer.start()
    try:
        await producer.start()
        try:
            reading = await read_plan(consumer, kafka, progress)
            progress.to_read = reading.total
            progress.truncated = reading.truncated
            stops = {TopicPartition(r.topic, r.partition): r for r in reading.ranges if r.size}
            consumer.assign(list(stops))
            for tp, r in stops.items():
                consumer.seek(tp, r.start)
            while stops:
                batch = await consumer.getmany(timeout_ms=_POLL_MS, max_records=BATCH)
                chosen = []
                for tp, records in batch.items():
                    if tp not in stops:
                        continue
                    for record in records:
                        if record.offset >= stops[tp].stop:
                            break
                        progress.read += 1
                        if progress.window.contains(record.timestamp):
                            chosen.append(record)
                if index.uses_link:
                    # link() does blocking HTTP: keep the caller's loop (the
                    # API's requests) running meanwhile, as the worker does.
                    results = await asyncio.to_thread(match, chosen)
                else:
                    results = match(chosen)
                ids = {o for _, r in results if (o := occurrence_of(r)) is not None}
                recorded = set(await known(ids)) if known is not None and ids else set()
                pending: list[asyncio.Future[Any]] = []
                for coordinates, result in results:
                    skip = occurrence_of(result) in recorded
                    progress.count(result, known=skip)
                    for failure in result.filter_errors:
                        log.info(
                            "replay.filter_failed",
                            source=coordinates,
                            trigger=trigger.id,
                            error=failure.error,
                        )
                    if skip:
                        continue
                    for out in kafka_records(
                        result,
                        topics,
                        now_ns=time.time_ns(),
                        dead_letters=False,
                        publish_events=kafka.publish_events,
                    ):
                        pending.append(
                            await producer.send(
                                out.topic, key=out.key, value=out.value, headers=list(out.headers)
                            )
                        )
                if pending:
                    await asyncio.gather(*pending)
                # Checked for every partition, not only those in the batch: the
                # position may step over a gap (compaction, transaction markers).
                for tp in [tp for tp, r in stops.items() if await consumer.position(tp) >= r.stop]:
                    del stops[tp]
                    consumer.pause(tp)
                if on_batch is not None:
                    on_batch(progress)
        finally:
            await producer.stop()
    finally:
        await consumer.stop()
