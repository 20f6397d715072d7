"""The one producer factory: every process writes to Kafka with the same guarantees.

Idempotent (the broker drops a retried batch it already has: no duplicate
after a lost acknowledgement) and `acks="all"`. A producer whose sends fail
with a fatal error (for example `OutOfOrderSequenceNumber` after a record
too large for the broker) stays broken; callers replace it rather than
retrying on it forever.
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from streams.settings import KafkaSettings

# Kafka's default broker `message.max.bytes` is ~1 MiB; a request holds a
# batch of records, so it may be a little larger than one record.
DEFAULT_MAX_REQUEST_BYTES = 1_048_576


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
    )
