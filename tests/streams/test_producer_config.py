"""What every producer of the project is built with (`streams.producers.create_producer`)."""

from __future__ import annotations

import pytest

from streams import KafkaSettings
from streams.producers import BATCH_BYTES, TRANSACTION_RETRY_BACKOFF_MS, create_producer

pytestmark = pytest.mark.unit

SETTINGS = KafkaSettings(kafka_bootstrap_servers="127.0.0.1:1")


async def test_transactional_producers_retry_a_busy_transaction_coordinator_sooner() -> None:
    """CONCURRENT_TRANSACTIONS after a commit is retried after the backoff;
    back-to-back transactions (the instance runner's) must not wait 100 ms."""
    transactional = create_producer(SETTINGS, transactional_id="instances.0")
    plain = create_producer(SETTINGS)
    try:
        assert transactional._sender._retry_backoff == TRANSACTION_RETRY_BACKOFF_MS / 1000
        assert plain._sender._retry_backoff == 0.1  # aiokafka's default, kept
        assert transactional._sender._retry_backoff < plain._sender._retry_backoff
    finally:
        await transactional.stop()
        await plain.stop()


async def test_every_producer_batches_up_to_batch_bytes() -> None:
    for producer in (create_producer(SETTINGS), create_producer(SETTINGS, transactional_id="t")):
        try:
            assert producer._message_accumulator._batch_size == BATCH_BYTES
        finally:
            await producer.stop()
