"""Proofs, on the real broker, of the Kafka features the project relies on.

- idempotent producer: a retried produce request is not written twice;
- transactions: committed records are visible to read_committed consumers,
  aborted ones are not, and consume-transform-produce commits its outputs
  and its input offsets atomically (`send_offsets_to_transaction`);
- consumer groups: two members share the partitions; when one leaves or
  dies, the other gets every partition and resumes from the committed
  offsets, so committed work is neither lost nor done twice.

The only fakes are faults a real component cannot produce on cue: a produce
response lost on the wire, and a consumer process that dies without a
LeaveGroup.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.structs import OffsetAndMetadata

from tests.streams.kafka_helpers import committed_offsets, eventually, read_topic, unique

pytestmark = pytest.mark.integration

MakeTopic = Callable[..., Awaitable[str]]


def lose_first_produce_response(
    producer: AIOKafkaProducer, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """Fault: the broker writes the first produce request, its answer is lost.

    The producer sees a connection error and retries the same batch, which is
    exactly how duplicates arise in production. Returns the produce request
    count, to show that the retry happened.
    """
    client = producer.client
    real_send = client.send
    produce_requests: list[int] = []

    async def send(node_id: int, request: object, **kwargs: object) -> object:
        response = await real_send(node_id, request, **kwargs)
        if isinstance(request, ProduceRequest):
            produce_requests.append(node_id)
            if len(produce_requests) == 1:
                raise KafkaConnectionError("produce response lost (injected fault)")
        return response

    monkeypatch.setattr(client, "send", send)
    return produce_requests


async def _produce_with_lost_response(
    bootstrap: str, topic: str, monkeypatch: pytest.MonkeyPatch, *, idempotent: bool, n: int
) -> tuple[list[bytes], int]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=idempotent, acks="all", linger_ms=50
    )
    await producer.start()
    try:
        requests = lose_first_produce_response(producer, monkeypatch)
        futures = [await producer.send(topic, f"m{i}".encode(), partition=0) for i in range(n)]
        for future in futures:
            await future
    finally:
        await producer.stop()
    values = [r.value for r in await read_topic(bootstrap, topic)]
    return values, len(requests)


async def test_idempotent_producer_writes_a_retried_batch_once(
    kafka_bootstrap: str, make_topic: MakeTopic, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 20
    topic = await make_topic("idempotent", partitions=1)

    values, requests = await _produce_with_lost_response(
        kafka_bootstrap, topic, monkeypatch, idempotent=True, n=n
    )

    assert requests >= 2, "the lost response must have caused a retry"
    # Same producer id and sequence number: the broker recognised the retry.
    assert values == [f"m{i}".encode() for i in range(n)]


async def test_plain_producer_duplicates_a_retried_batch(
    kafka_bootstrap: str, make_topic: MakeTopic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control experiment: the same fault without idempotence duplicates."""
    n = 20
    topic = await make_topic("not-idempotent", partitions=1)

    values, requests = await _produce_with_lost_response(
        kafka_bootstrap, topic, monkeypatch, idempotent=False, n=n
    )

    assert requests >= 2
    assert len(values) > n
    assert set(values) == {f"m{i}".encode() for i in range(n)}
    assert max(Counter(values).values()) == 2


async def test_transaction_commit_is_visible_and_abort_is_not(
    kafka_bootstrap: str, make_topic: MakeTopic
) -> None:
    topic = await make_topic("txn", partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=unique("txn"))
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"c0", partition=0)
            await producer.send_and_wait(topic, b"c1", partition=1)

        await producer.begin_transaction()
        # Awaited: the aborted records are really in the log before the abort.
        await producer.send_and_wait(topic, b"a0", partition=0)
        await producer.send_and_wait(topic, b"a1", partition=1)
        await producer.abort_transaction()

        async with producer.transaction():
            await producer.send_and_wait(topic, b"c2", partition=0)
    finally:
        await producer.stop()

    committed = await read_topic(kafka_bootstrap, topic, isolation_level="read_committed")
    everything = await read_topic(kafka_bootstrap, topic, isolation_level="read_uncommitted")

    assert sorted(r.value for r in committed) == [b"c0", b"c1", b"c2"]
    assert sorted(r.value for r in everything) == [b"a0", b"a1", b"c0", b"c1", b"c2"]


async def test_consume_transform_produce_commits_outputs_and_offsets_atomically(
    kafka_bootstrap: str, make_topic: MakeTopic
) -> None:
    n, partitions = 30, 3
    source = await make_topic("ctp-in", partitions=partitions)
    sink = await make_topic("ctp-out", partitions=partitions)
    group = unique("ctp")
    async with AIOKafkaProducer(bootstrap_servers=kafka_bootstrap) as plain:
        for i in range(n):
            await plain.send(source, f"{i}".encode(), partition=i % partitions)

    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=unique("ctp"))
    await consumer.start()
    await producer.start()

    async def transform(batch: dict[TopicPartition, list]) -> dict[TopicPartition, int]:
        for tp, records in batch.items():
            for record in records:
                value = f"x{int(record.value) * 10}".encode()
                await producer.send(sink, value, partition=tp.partition)
        return {tp: records[-1].offset + 1 for tp, records in batch.items()}

    async def next_batch() -> dict[TopicPartition, list] | None:
        return await consumer.getmany(timeout_ms=200) or None

    try:
        # A first attempt that fails half-way: outputs and offsets are aborted.
        batch = await eventually(next_batch, what="records from the source topic")
        await producer.begin_transaction()
        offsets = await transform(batch)
        await producer.send_offsets_to_transaction(offsets, group)
        await producer.abort_transaction()
        assert set(
            (await committed_offsets(kafka_bootstrap, group, source, partitions)).values()
        ) == {-1}
        assert await read_topic(kafka_bootstrap, sink, isolation_level="read_committed") == []
        # As after a crash: start again from the committed offsets (none yet).
        await consumer.seek_to_committed()
        for tp in consumer.assignment():
            if await consumer.committed(tp) is None:
                await consumer.seek_to_beginning(tp)

        processed = 0
        deadline = time.monotonic() + 60
        while processed < n:
            assert time.monotonic() < deadline, f"processed only {processed} of {n}"
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                continue
            async with producer.transaction():
                offsets = await transform(batch)
                await producer.send_offsets_to_transaction(offsets, group)
            processed += sum(len(records) for records in batch.values())
    finally:
        await producer.stop()
        await consumer.stop()

    assert processed == n
    outputs = await read_topic(kafka_bootstrap, sink, isolation_level="read_committed")
    assert sorted(r.value for r in outputs) == sorted(f"x{i * 10}".encode() for i in range(n))
    everything = await read_topic(kafka_bootstrap, sink)
    assert len(everything) > n, "the aborted attempt's outputs are in the log, just invisible"
    offsets_now = await committed_offsets(kafka_bootstrap, group, source, partitions)
    assert offsets_now == {p: n // partitions for p in range(partitions)}


def _consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # The broker's minimum (group.min.session.timeout.ms): a dead member
        # is evicted 6 s after its last heartbeat.
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )


async def _no_leave() -> None:
    return None


async def _process_and_commit(consumer: AIOKafkaConsumer, done: list[bytes]) -> int:
    """One poll: handle the records, then commit exactly what was handled."""
    batch = await consumer.getmany(timeout_ms=200)
    if not batch:
        return 0
    await consumer.commit(
        {tp: OffsetAndMetadata(rs[-1].offset + 1, "") for tp, rs in batch.items()}
    )
    done.extend(r.value for rs in batch.values() for r in rs)
    return sum(len(rs) for rs in batch.values())


@pytest.mark.parametrize("departure", ["leaves", "dies"])
async def test_group_rebalance_hands_partitions_over_at_committed_offsets(
    kafka_bootstrap: str,
    make_topic: MakeTopic,
    monkeypatch: pytest.MonkeyPatch,
    departure: str,
) -> None:
    partitions = 4
    topic = await make_topic("rebalance", partitions=partitions)
    group = unique("group")
    all_tps = {TopicPartition(topic, p) for p in range(partitions)}

    async def publish(start: int, stop: int) -> list[bytes]:
        values = [f"r{i}".encode() for i in range(start, stop)]
        async with AIOKafkaProducer(bootstrap_servers=kafka_bootstrap) as producer:
            for i, value in zip(range(start, stop), values, strict=True):
                await producer.send(topic, value, partition=i % partitions)
        return values

    first = await publish(0, 40)
    a = _consumer(kafka_bootstrap, topic, group)
    b = _consumer(kafka_bootstrap, topic, group)
    await a.start()
    await b.start()
    try:

        async def shared() -> bool:
            one, two = a.assignment(), b.assignment()
            return bool(one) and bool(two) and not one & two and one | two == all_tps

        await eventually(shared, what="both members to hold a share of the partitions")
        b_partitions = b.assignment()

        # Both members work and commit until the first 40 records are done.
        done_a: list[bytes] = []
        done_b: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(done_a) + len(done_b) < len(first):
            assert time.monotonic() < deadline
            await _process_and_commit(a, done_a)
            await _process_and_commit(b, done_b)
        assert done_a
        assert done_b

        # b fetches more of its records but goes away before committing them.
        second = await publish(40, 80)
        fetched_by_b: list[bytes] = []
        while not fetched_by_b:
            assert time.monotonic() < deadline
            batch = await b.getmany(timeout_ms=200)
            fetched_by_b.extend(r.value for rs in batch.values() for r in rs)
        if departure == "dies":
            # A crashed process sends no LeaveGroup: the broker notices only
            # when the session times out.
            monkeypatch.setattr(b._coordinator, "_maybe_leave_group", _no_leave)
        await b.stop()

        async def a_owns_everything() -> bool:
            # aiokafka rejoins from a background task; a does not have to poll
            # (and does not, so no commit can race the rebalance).
            return a.assignment() == all_tps

        started = time.monotonic()
        await eventually(a_owns_everything, what="the survivor to own every partition")
        handover = time.monotonic() - started
        while len(done_a) + len(done_b) < len(first) + len(second):
            assert time.monotonic() < deadline + 30
            await _process_and_commit(a, done_a)
    finally:
        await a.stop()
        await b.stop()

    committed_work = done_a + done_b
    assert Counter(committed_work) == Counter(first + second), "nothing lost, nothing twice"
    # What b fetched but never committed was redone by a (at-least-once).
    assert set(fetched_by_b) <= set(done_a)
    assert {int(v[1:]) % partitions for v in fetched_by_b} <= {tp.partition for tp in b_partitions}
    offsets = await committed_offsets(kafka_bootstrap, group, topic, partitions)
    assert offsets == {p: 80 // partitions for p in range(partitions)}
    print(f"handover after b {departure}: {handover:.1f}s")
