"""Faust and partition counts: the PartitionsMismatch lesson, on the real broker.

A table's changelog has the table's partition count; faust requires the
source topic of every table write to have the same count. The rule is about
the topic that exists on the broker, not about `settings.partitions` (2 for
these tests): a source created up front with 3 partitions and a 3-partition
table work; a 1-partition source and a 2-partition table do not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from faust.exceptions import PartitionsMismatch

from tests.streams.faust_apps import CountingApp
from tests.streams.kafka_helpers import (
    committed_offsets,
    eventually,
    publish,
    topic_partitions,
    unique,
)

pytestmark = pytest.mark.integration

MakeTopic = Callable[..., Awaitable[str]]


async def test_agent_on_a_topic_created_up_front_uses_all_its_partitions(
    kafka_bootstrap: str, make_topic: MakeTopic, make_counting_app: Callable[..., CountingApp]
) -> None:
    source = await make_topic("upfront", partitions=3)
    counter = make_counting_app(app_id=unique("upfront"), source=source, partitions=3)
    await counter.start()
    await publish(kafka_bootstrap, source, [(b"a", 0), (b"b", 1), (b"c", 2), (b"c", 2)])

    async def counted() -> bool:
        return counter.counts() == {b"a": 1, b"b": 1, b"c": 2}

    await eventually(counted, what="one count per event on every partition")
    source_tps = {tp for tp in counter.app.consumer.assignment() if tp.topic == source}
    await counter.stop()

    assert {tp.partition for tp in source_tps} == {0, 1, 2}
    assert await topic_partitions(kafka_bootstrap, counter.changelog_topic) == 3


async def test_table_on_a_source_with_other_partitions_crashes_the_agent_not_the_worker(
    kafka_bootstrap: str, make_topic: MakeTopic, make_counting_app: Callable[..., CountingApp]
) -> None:
    source = await make_topic("mismatch", partitions=1)
    counter = make_counting_app(
        app_id=unique("mismatch"),
        source=source,
        partitions=2,
        # With the default (True), stop() waits for the crashed event's ack
        # before it closes the agents, and only closing the agent's stream
        # acks it: the app hangs on shutdown, and asyncio.wait_for cannot
        # cancel it. That is the "worker hung" half of the lesson.
        stream_wait_empty=False,
    )
    await counter.start()
    await publish(kafka_bootstrap, source, [(b"a", 0)])

    async def crashed() -> list[BaseException] | None:
        actors = counter.app.agents[f"{counter.app.conf.id}.count"]._actors
        reasons = [a.crash_reason for a in actors if a.crashed]
        return reasons or None

    reasons = await eventually(crashed, what="the agent to crash")
    assert all(isinstance(r, PartitionsMismatch) for r in reasons)
    assert "has 1 partitions, but the changelog" in str(reasons[0])
    # The worker itself keeps running (no crash, no exit): only the logs say
    # that this agent processes nothing any more.
    assert counter.app.state == "running"
    assert not counter.app.crashed
    assert counter.counts() == {}
    await counter.stop()
    # And the event it died on is lost, not redone: faust acks an event in the
    # `finally` of the stream's generator, which runs when the crashed
    # agent's generator is closed at stop(), and stop() then commits it.
    assert await committed_offsets(kafka_bootstrap, counter.app.conf.id, source, 1) == {0: 1}
