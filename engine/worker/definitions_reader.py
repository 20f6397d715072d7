"""Keeps the trigger index in step with the compacted definitions topic.

Every worker reads every partition (no consumer group): the trigger index is
the one thing each worker holds whole. On start the topic is read up to its
end offsets before any inbound event is matched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from engine.definitions import WorkflowDefinition, decode_definition
from streams import KafkaSettings
from streams.topics import partition_count
from triggers import InvalidTrigger, Trigger, TriggerIndex

log = structlog.get_logger(__name__)


class DefinitionsReader:
    def __init__(self, settings: KafkaSettings, topic: str, index: TriggerIndex) -> None:
        self._settings = settings
        self._topic = topic
        self.index = index
        self.workflows: dict[str, WorkflowDefinition] = {}
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        count = await partition_count(self._settings, self._topic)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        self._consumer = consumer
        partitions = [TopicPartition(self._topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        while await self._behind(consumer, end):
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                self.apply(records)
        log.info("definitions.loaded", triggers=len(self.index), workflows=len(self.workflows))
        self.ready.set()
        self._task = asyncio.create_task(self._tail(), name="definitions-tail")

    @staticmethod
    async def _behind(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
        for tp, offset in end.items():
            if await consumer.position(tp) < offset:
                return True
        return False

    async def _tail(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batch.values():
                self.apply(records)

    def apply(self, records: Iterable[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            try:
                kind, ident, definition = decode_definition(record.key or b"", record.value)
            except (ValueError, KeyError) as exc:
                log.error("definitions.unreadable", offset=record.offset, error=str(exc))
                continue
            if kind == "trigger":
                if isinstance(definition, Trigger):
                    try:
                        self.index.put_trigger(definition)
                    except InvalidTrigger as exc:
                        # The API validates before publishing; this only
                        # happens across incompatible versions. Skip, loudly.
                        log.error("definitions.invalid_trigger", id=ident, error=exc.message)
                else:
                    self.index.remove_trigger(ident)
            elif isinstance(definition, WorkflowDefinition):
                self.workflows[ident] = definition
                self.index.put_workflow(ident, deleted=definition.deleted_at is not None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
