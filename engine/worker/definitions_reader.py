"""Keeps the trigger index in step with the compacted definitions topic.

Every worker reads every partition (no consumer group): the trigger index is
the one thing each worker holds whole. On start the topic is read up to its
end offsets before any inbound event is matched.

A record that cannot be read (not JSON, not an object, a trigger that no
longer compiles) is skipped, logged with its offset and counted: one bad
record must never freeze the index for every later definition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client import Counter

from engine.definitions import WorkflowDefinition, decode_definition
from streams import KafkaSettings
from streams.lifecycle import Loop
from streams.topics import partition_count, reader
from triggers import Trigger, TriggerIndex

log = structlog.get_logger(__name__)

SKIPPED = Counter(
    "orchestration_definitions_skipped_total", "Definition records that could not be applied"
)

# Startup reads the compacted topic in batches of 10,000 records (a few MB):
# 100,000 triggers load in ~10 round trips; each poll waits at most 500 ms
# so a quiet topic does not stall the start.
_LOAD_BATCH = 10_000
_LOAD_POLL_MS = 500
# Once loaded, a new definition reaches the index within one poll: 1 s.
_TAIL_POLL_MS = 1000


class DefinitionsReader:
    def __init__(self, settings: KafkaSettings, topic: str, index: TriggerIndex) -> None:
        self._settings = settings
        self._topic = topic
        self.index = index
        self.workflows: dict[str, WorkflowDefinition] = {}
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self.loop = Loop("definitions-tail", self._tail)
        self.skipped = 0

    async def start(self) -> None:
        count = await partition_count(self._settings, self._topic)
        # A reset never jumps to the end (`reader`): no definition is skipped.
        consumer = reader(self._settings)
        await consumer.start()
        self._consumer = consumer
        partitions = [TopicPartition(self._topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        while await self._behind(consumer, end):
            batch = await consumer.getmany(timeout_ms=_LOAD_POLL_MS, max_records=_LOAD_BATCH)
            for records in batch.values():
                self.apply(records)
        log.info("definitions.loaded", triggers=len(self.index), workflows=len(self.workflows))
        self.ready.set()
        self.loop.start()

    @staticmethod
    async def _behind(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
        for tp, offset in end.items():
            if await consumer.position(tp) < offset:
                return True
        return False

    async def _tail(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=_TAIL_POLL_MS, max_records=_LOAD_BATCH)
            for records in batch.values():
                self.apply(records)

    def apply(self, records: Iterable[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            try:
                self._apply_one(record)
            except Exception as exc:
                # The API validates before publishing: this is a record from
                # an incompatible version or another writer. Skip, loudly.
                self.skipped += 1
                SKIPPED.inc()
                log.error(
                    "definitions.skipped",
                    partition=record.partition,
                    offset=record.offset,
                    key=(record.key or b"")[:200].decode(errors="replace"),
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )

    def _apply_one(self, record: ConsumerRecord[bytes, bytes]) -> None:
        kind, ident, definition = decode_definition(record.key or b"", record.value)
        if kind == "trigger":
            if isinstance(definition, Trigger):
                self.index.put_trigger(definition)
            else:
                self.index.remove_trigger(ident)
        elif isinstance(definition, WorkflowDefinition):
            self.workflows[ident] = definition
            self.index.put_workflow(ident, deleted=definition.deleted_at is not None)

    async def stop(self) -> None:
        await self.loop.stop()
        if self._consumer is not None:
            await self._consumer.stop()
