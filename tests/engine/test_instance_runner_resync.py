"""A partition whose transaction failed is fenced again and read back before
any later command of it is applied (a producer left in a fatal state is
replaced, not retried forever)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.producer.transaction_manager import TransactionState

from engine import commands, history
from engine.worker.instances import InstanceRunner, NoStack
from streams import KafkaSettings, Topics, ensure_topics
from streams.producers import ProducerHolder, create_producer

pytestmark = pytest.mark.integration

DELAY = {"stages": [{"delay": {"duration": "1h"}}]}


async def _history(settings: KafkaSettings, topic: str, instance_id: str) -> list[str]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[str] = []
    try:
        batch = await consumer.getmany(timeout_ms=2000)
        for records in batch.values():
            for record in records:
                if record.key == instance_id.encode():
                    found.append(str(history.decode(record.value).get("type")))
    finally:
        await consumer.stop()
    return found


async def _until(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not done():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_broken_partition_producer_is_replaced_and_the_command_applied_once(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings(partitions=1)
    topics = Topics.from_settings(settings)
    await ensure_topics(settings, topics)
    holder = ProducerHolder(lambda: create_producer(settings))
    await holder.start()
    runner = InstanceRunner(
        settings, topics, NoStack(), stack_name="s", max_concurrency=2, pause_activities=False
    )
    await runner.start(holder)
    try:
        await _until(lambda: 0 in runner._txn)
        broken = runner._txn[0]
        # What a sender-routine failure during a broker outage leaves: every
        # later begin_transaction() raises (FATAL_ERROR -> IN_TRANSACTION).
        broken._txn_manager.state = TransactionState.FATAL_ERROR
        start = commands.StartInstance(
            id="run-1", instance_id="i-1", workflow_id="w-1", config=DELAY
        )
        key, value = commands.encode(start)
        await holder.send_and_wait(topics.commands, key=key, value=value)
        await _until(lambda: "i-1" in runner.states)
        assert runner._txn[0] is not broken
        assert runner.states["i-1"].waiting == "delay"
        records = await _history(settings, topics.history, "i-1")
        # Applied once: one stage start, whatever the failed attempt tried.
        assert records.count(history.STAGE_STATUS) == 1
    finally:
        await runner.stop()
        await holder.stop()
