"""The definitions reader loads the whole compacted topic, then follows it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from engine.definitions import (
    WorkflowDefinition,
    trigger_record,
    trigger_tombstone,
    workflow_record,
)
from engine.worker.definitions_reader import DefinitionsReader
from streams import KafkaSettings, Topics
from triggers import Trigger, TriggerIndex

pytestmark = pytest.mark.integration


async def create_topic(settings: KafkaSettings, topic: str, *, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
        )
    finally:
        await admin.close()


def trigger(n: int, workflow: str = "w1") -> Trigger:
    return Trigger(id=f"t{n}", workflow_id=workflow, event="E", filter="event.n > 1")


async def test_every_partition_is_loaded_before_ready_then_followed(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    topic = Topics.from_settings(settings).definitions
    # Three partitions: the reader must not assume the usual single one.
    await create_topic(settings, topic, partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    reader = DefinitionsReader(settings, topic, TriggerIndex())
    try:
        for partition, (key, value) in enumerate(
            [
                workflow_record(WorkflowDefinition("w1", {"stages": []}, "2025-01-01T00:00:00Z")),
                trigger_record(trigger(1)),
                trigger_record(trigger(2)),
            ]
        ):
            await producer.send_and_wait(topic, value, key=key, partition=partition)
        await producer.send_and_wait(topic, b"{broken", key=b"trigger:t9", partition=0)

        await reader.start()
        assert reader.ready.is_set()
        assert sorted(c.trigger.id for c in reader.index.candidates("E", "v1")) == ["t1", "t2"]
        assert reader.workflows["w1"].deleted_at is None

        key, tombstone = trigger_tombstone("t1")
        await producer.send_and_wait(topic, tombstone, key=key, partition=1)
        deleted = WorkflowDefinition("w2", {}, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
        key, value = workflow_record(deleted)
        await producer.send_and_wait(topic, value, key=key, partition=2)
        key, value = trigger_record(trigger(3, workflow="w2"))
        await producer.send_and_wait(topic, value, key=key, partition=2)
        async with asyncio.timeout(20):
            while "w2" not in reader.workflows or len(reader.index) != 2:
                await asyncio.sleep(0.05)
        # t1 is gone; t3's workflow is deleted, so it never fires.
        assert [c.trigger.id for c in reader.index.candidates("E", "v1")] == ["t2"]
    finally:
        await reader.stop()
        await producer.stop()


async def test_malformed_records_are_skipped_and_the_tail_stays_live(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    topic = Topics.from_settings(settings).definitions
    await create_topic(settings, topic, partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    key, value = workflow_record(WorkflowDefinition("w1", {"stages": []}, "2025-01-01T00:00:00Z"))
    await producer.send_and_wait(topic, value, key=key)
    reader = DefinitionsReader(settings, topic, TriggerIndex())
    try:
        await reader.start()
        # Valid JSON that is not an object (the TypeError that used to kill
        # the tail), a list, a trigger lacking fields, an unknown key kind.
        for bad_key, bad_value in [
            (b"trigger:t1", b'"a string"'),
            (b"trigger:t2", b"[1, 2]"),
            (b"trigger:t3", b'{"id": "t3"}'),
            (b"workflow:w9", b"{}"),
            (b"nonsense", b"{}"),
        ]:
            await producer.send_and_wait(topic, bad_value, key=bad_key)
        key, value = trigger_record(trigger(4))
        await producer.send_and_wait(topic, value, key=key)
        async with asyncio.timeout(20):
            while len(reader.index) != 1:
                await asyncio.sleep(0.05)
        assert [c.trigger.id for c in reader.index.candidates("E", "v1")] == ["t4"]
        assert reader.skipped == 5
        assert reader.loop.alive
    finally:
        await reader.stop()
        await producer.stop()
