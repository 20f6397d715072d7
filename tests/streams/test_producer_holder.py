"""ProducerHolder: a producer stuck on fatal errors is replaced, and nothing is lost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaTimeoutError, OutOfOrderSequenceNumber
from prometheus_client import REGISTRY

from streams import BatchConsumer, KafkaSettings, Record
from streams.producers import ProducerHolder, create_producer, is_fatal
from tests.streams.kafka_helpers import create_topic, eventually, read_topic, unique


class BrokenProducer(AIOKafkaProducer):  # type: ignore[misc]
    """A real producer whose sends fail as an idempotent producer in its fatal state does."""

    def __init__(self, on_send: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_send = on_send

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        await self._on_send()
        raise OutOfOrderSequenceNumber()


async def committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        offset: int | None = await consumer.committed(TopicPartition(topic, 0))
        return offset
    finally:
        await consumer.stop()


@pytest.mark.unit
def test_only_non_retriable_errors_other_than_an_outage_are_fatal() -> None:
    assert is_fatal(OutOfOrderSequenceNumber())
    assert not is_fatal(KafkaTimeoutError())
    assert not is_fatal(RuntimeError("database down"))


@pytest.mark.integration
async def test_a_broken_producer_is_replaced_and_the_failed_batches_are_sent_again(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    bootstrap = settings.kafka_bootstrap_servers
    source = await create_topic(bootstrap, unique("holder-in"), partitions=1)
    sink = await create_topic(bootstrap, unique("holder-out"), partitions=1)
    seed = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await seed.start()
    try:
        for i in range(10):
            await seed.send_and_wait(source, str(i).encode())
    finally:
        await seed.stop()

    group = f"g-{uuid.uuid4().hex[:8]}"
    commits_while_broken: list[int | None] = []

    async def on_broken_send() -> None:
        commits_while_broken.append(await committed(bootstrap, group, source))

    made: list[AIOKafkaProducer] = []

    def factory() -> AIOKafkaProducer:
        producer = (
            BrokenProducer(on_broken_send, bootstrap_servers=bootstrap)
            if not made
            else create_producer(settings)
        )
        made.append(producer)
        return producer

    before = REGISTRY.get_sample_value("orchestration_producer_replaced_total") or 0.0
    holder = ProducerHolder(factory, fatal_after=3)
    await holder.start()

    async def forward(records: Sequence[Record]) -> None:
        pending = [await holder.send(sink, value=r.value, key=r.key) for r in records]
        await asyncio.gather(*pending)

    consumer = BatchConsumer(
        settings, [source], holder.guard(forward), group_id=group, name="holder"
    )
    await consumer.start()
    try:

        async def forwarded() -> list[bytes | None] | None:
            values = [r.value for r in await read_topic(bootstrap, sink)]
            return values if len(values) >= 10 else None

        values = await eventually(forwarded, what="every record forwarded")

        async def all_committed() -> bool:
            return await committed(bootstrap, group, source) == 10

        await eventually(all_committed, what="the offsets committed")
    finally:
        await consumer.stop()
        await holder.stop()
    # Three batches failed on the broken producer, none of them committed.
    assert commits_while_broken == [None, None, None]
    assert len(made) == 2
    assert holder.producer is made[1]
    assert sorted(values) == [str(i).encode() for i in range(10)]
    after = REGISTRY.get_sample_value("orchestration_producer_replaced_total")
    assert after == before + 1
