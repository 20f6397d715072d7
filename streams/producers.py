"""The one producer factory: every process writes to Kafka with the same guarantees.

Idempotent (the broker drops a retried batch it already has: no duplicate
after a lost acknowledgement) and `acks="all"`. A producer whose sends fail
with a fatal error (for example `OutOfOrderSequenceNumber` after a record
too large for the broker) stays broken; callers replace it rather than
retrying on it forever: `ProducerHolder` does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from prometheus_client import Counter

from streams.settings import KafkaSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")

REPLACED = Counter(
    "orchestration_producer_replaced_total",
    "Shared producers closed and replaced after repeated fatal send errors",
)

# Kafka's default broker `message.max.bytes` is ~1 MiB; a request holds a
# batch of records, so it may be a little larger than one record.
DEFAULT_MAX_REQUEST_BYTES = 1_048_576

# One record batch per partition and request, and aiokafka keeps one request
# in flight per broker: with its 16 KB default a burst went out in many small
# requests. 256 KB (under every topic's 1 MB message limit) took a burst of
# 20,000 instance starts from 1,854 to 2,481-2,502/s on one worker, the
# machine's CPU per start from 779 to 574-579 µs (benchmarks/engine.py);
# 1 MB measured the same. A batch leaves when full or after `linger_ms`, so
# latency at low rates is unchanged.
BATCH_BYTES = 262_144

# A transaction begun while the coordinator still writes the previous one's
# markers is answered CONCURRENT_TRANSACTIONS; aiokafka shortens that retry
# only for a transaction's first AddPartitionsToTxn, and waits its
# `retry_backoff_ms` (100) before retrying AddOffsetsToTxn and EndTxn. The
# instance runner commits one transaction per partition per batch, back to
# back: at 100 sends/s, 20 ms (the Java client's wait for this error) took
# event -> instance terminated from p50 356 / p99 572 ms to 176-195 / 253-278
# ms, start and send rates unchanged (benchmarks/engine.py).
TRANSACTION_RETRY_BACKOFF_MS = 20


_M = 0x5BD1E995
_U32 = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's key hash (MurmurHash2, seed 0x9747b28c, as the Java client),
    unsigned. The words are read with one `struct` call instead of four
    byte indexings each: 5 us instead of 9 for a 38-byte instance id."""
    length = len(data)
    h = 0x9747B28C ^ length
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _U32
        h = ((h * _M) & _U32) ^ (((k ^ (k >> 24)) * _M) & _U32)
    tail = data[words * 4 :]
    if tail:
        if len(tail) == 3:
            h ^= tail[2] << 16
        if len(tail) >= 2:
            h ^= tail[1] << 8
        h = ((h ^ tail[0]) * _M) & _U32
    h ^= h >> 13
    h = (h * _M) & _U32
    return h ^ (h >> 15)


class CachedPartitioner:
    """Kafka's default key partitioning (murmur2, as the Java client), with the
    hash of each key remembered: every record of an instance (history,
    changelog, events, commands) is keyed by its id, and aiokafka's
    pure-Python murmur2 was ~2.5% of the worker's CPU. Keyless records go to a
    random available partition, as the default partitioner does."""

    def __init__(self, size: int = 100_000) -> None:
        self._size = size
        self._hashes: dict[bytes, int] = {}

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return random.choice(available or all_partitions)  # noqa: S311 (spreading, not secrets)
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._size:
                self._hashes.clear()  # bounded; refilled by the live keys
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


# One hash cache for every producer of the process: the matcher's sends hash
# an instance id, and the runner's records of that instance hit the cache.
_PARTITIONER = CachedPartitioner()


# (topic, key, value, headers) of one record to send.
OutRecord = tuple[str, bytes, bytes | None, Sequence[tuple[str, bytes]]]


async def send_batched(
    producer: AIOKafkaProducer, records: Iterable[OutRecord]
) -> list[asyncio.Future[Any]]:
    """Queue records as one aiokafka batch per topic partition, in order within
    each partition, on the partition `send` would pick for the key; returns
    what to await for the broker's acknowledgement. One `send` call cost ~28
    µs of CPU (profiled: ~9 per instance start in the runtime); a batch
    append costs a few. For a transaction's records: in the matcher's
    latency-bound loop, one send per record measured better.

    A record too large for a batch of its own goes through `send` (which
    checks it against the request size). Like `send`, this only queues: in a
    transaction, its commit waits for every batch."""
    partitions: dict[str, list[int]] = {}
    batches: dict[tuple[str, int], Any] = {}
    acks: list[asyncio.Future[Any]] = []

    async def submit(tp: tuple[str, int]) -> None:
        batch = batches.pop(tp, None)
        if batch is not None and batch.record_count():
            acks.append(await producer.send_batch(batch, tp[0], partition=tp[1]))

    for topic, key, value, given in records:
        # aiokafka's C batch builder takes a list only.
        headers = given if isinstance(given, list) else list(given)
        known = partitions.get(topic)
        if known is None:
            known = partitions[topic] = sorted(await producer.partitions_for(topic))
        tp = (topic, _PARTITIONER(key, known, known))
        batch = batches.get(tp)
        if batch is None:
            batch = batches[tp] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is not None:
            continue
        await submit(tp)  # full: send it, then start the next one
        batch = batches[tp] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            del batches[tp]
            acks.append(
                await producer.send(topic, key=key, value=value, partition=tp[1], headers=headers)
            )
    for tp in list(batches):
        await submit(tp)
    return acks


def create_producer(
    settings: KafkaSettings,
    *,
    linger_ms: int = 5,
    max_request_size: int = DEFAULT_MAX_REQUEST_BYTES,
    transactional_id: str | None = None,
) -> AIOKafkaProducer:
    """An idempotent `acks=all` producer, not started.

    `linger_ms`: a few ms of lingering turn a batch's records into a handful
    of produce requests instead of one each (5 ms cost nothing at 200
    events/s and halve the requests at 2,000). `transactional_id`: a
    transactional producer; a newer one with the same id fences this one.
    """
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        max_request_size=max_request_size,
        transactional_id=transactional_id,
        partitioner=_PARTITIONER,
        max_batch_size=BATCH_BYTES,
        # The others keep aiokafka's default (100 ms).
        retry_backoff_ms=TRANSACTION_RETRY_BACKOFF_MS if transactional_id else 100,
    )


# Broker outage symptoms: a new producer would fail the same way, so they do
# not count towards a replacement.
_OUTAGE = (KafkaTimeoutError, KafkaConnectionError)


def is_fatal(error: BaseException) -> bool:
    """A producer error that retrying on the same producer cannot cure: a
    non-retriable `KafkaError` (`OutOfOrderSequenceNumber`, `ProducerFenced`,
    an `IllegalStateError` after one), other than an outage."""
    return isinstance(error, KafkaError) and not error.retriable and not isinstance(error, _OUTAGE)


class ProducerHolder:
    """Owns the process's shared producer and replaces it when it is broken.

    It sends as an `AIOKafkaProducer` does (`send`, `send_and_wait`), always
    on the current producer, so it can be handed wherever one was. A batch
    loop wraps its handler with `guard`: after `fatal_after` consecutive
    batches that failed with a fatal error (`is_fatal`), the old producer is
    closed and a new one started; the failed batches were not committed, so
    the loop re-reads them and sends them on the new producer.
    """

    def __init__(self, factory: Callable[[], AIOKafkaProducer], *, fatal_after: int = 3) -> None:
        self._factory = factory
        self._fatal_after = fatal_after
        self._fatal = 0
        self._producer: AIOKafkaProducer | None = None
        self._replacing = asyncio.Lock()

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "ProducerHolder: start() first"
        return self._producer

    async def start(self) -> None:
        producer = self._factory()
        await producer.start()
        self._producer = producer

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self.producer.send(
            topic, value=value, key=key, headers=headers
        )
        return future

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        *,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        return await (await self.send(topic, value=value, key=key, headers=headers))

    def guard(self, handler: Callable[[T], Awaitable[None]]) -> Callable[[T], Awaitable[None]]:
        """`handler`, with its outcomes counted towards a replacement."""

        async def guarded(batch: T) -> None:
            try:
                await handler(batch)
            except Exception as exc:
                await self.batch_failed(exc)
                raise
            self._fatal = 0

        return guarded

    async def batch_failed(self, error: BaseException) -> None:
        if not is_fatal(error):
            return
        self._fatal += 1
        if self._fatal >= self._fatal_after:
            await self.replace(reason=repr(error)[:300])

    async def replace(self, *, reason: str = "asked") -> None:
        """Close the current producer (its unsent records fail) and start a new one."""
        async with self._replacing:
            old = self._producer
            new = self._factory()
            await new.start()
            self._producer = new
            self._fatal = 0
        REPLACED.inc()
        log.warning("producer.replaced", reason=reason, after_failed_batches=self._fatal_after)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.stop()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
