"""Exactly-once occurrences while workers are killed with SIGKILL mid-stream.

Two workers share the inbound partitions (one consumer group); one is
killed with `kill -9` while events flow, a replacement joins, and in the end
every matching event has exactly one occurrence: nothing lost, nothing
doubled. The guarantee comes from deterministic ids and idempotent inserts,
not from the transport.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from compose.localstack._process import terminate
from streams import KafkaSettings
from tests.processes import process_env

pytestmark = pytest.mark.integration

EVENTS = 3000
TRIGGERS = 3  # every event matches every trigger


def ledger_event(i: int) -> bytes:
    return json.dumps(
        {
            "date": "2025-03-04T09:00:01Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "payload": {"ledger": "main", "transactions": [{"id": i, "postings": []}]},
        }
    ).encode()


@pytest.fixture
def workers(
    make_database: Callable[..., str],
    make_kafka_settings: Callable[..., KafkaSettings],
    tmp_path: Path,
) -> Iterator[tuple[KafkaSettings, str, Callable[[str], subprocess.Popen[bytes]]]]:
    kafka = make_kafka_settings(partitions=4)
    database = make_database()
    env = process_env(kafka, database, log_level="WARNING")
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "compose", "worker"], env=env, stdout=log, stderr=log
            )
        started.append(proc)
        return proc

    yield kafka, database, start
    for proc in started:
        terminate(proc, grace=20)


def seed_definitions(database: str, kafka: KafkaSettings) -> list[str]:
    """Workflow and triggers written as the API would: rows plus outbox-equivalent records."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO workflows (id, config) VALUES ('w1', '{\"stages\": []}')")
        ids = []
        for n in range(TRIGGERS):
            ids.append(f"t{n}")
            conn.execute(
                "INSERT INTO triggers (id, workflow_id, event) VALUES (%s, 'w1', %s)",
                (f"t{n}", "COMMITTED_TRANSACTIONS"),
            )
    return ids


async def publish_definitions(kafka: KafkaSettings, trigger_ids: list[str]) -> None:
    from engine.definitions import WorkflowDefinition, trigger_record, workflow_record
    from streams import Topics, ensure_topics
    from triggers import Trigger

    topics = await ensure_topics(kafka, Topics.from_settings(kafka))
    producer = AIOKafkaProducer(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await producer.start()
    try:
        key, value = workflow_record(
            WorkflowDefinition("w1", {"stages": []}, "2025-01-01T00:00:00Z")
        )
        await producer.send_and_wait(topics.definitions, value, key=key)
        for trigger_id in trigger_ids:
            trigger = Trigger(
                id=trigger_id,
                workflow_id="w1",
                event="COMMITTED_TRANSACTIONS",
                vars={"txID": "event.transactions[0].id"},
            )
            key, value = trigger_record(trigger)
            await producer.send_and_wait(topics.definitions, value, key=key)
    finally:
        await producer.stop()


def occurrence_counts(database: str) -> tuple[int, int, int]:
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (trigger_id, event->'payload')),"
            " (SELECT count(*) FROM workflow_instances) FROM triggers_occurrences"
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


async def test_sigkill_mid_stream_loses_and_duplicates_nothing(
    workers: tuple[KafkaSettings, str, Callable[[str], subprocess.Popen[bytes]]],
) -> None:
    kafka, database, start = workers
    await publish_definitions(kafka, seed_definitions(database, kafka))
    victim = start("victim")
    start("survivor")
    expected = EVENTS * TRIGGERS

    producer = AIOKafkaProducer(bootstrap_servers=kafka.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    killed_at = None
    try:
        for i in range(EVENTS):
            await producer.send(kafka.topics[i % 2], ledger_event(i))
            if i == EVENTS // 3:
                await producer.flush()
                # Let the workers get going, then kill one without warning.
                deadline = time.monotonic() + 60
                while occurrence_counts(database)[0] == 0 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=10)
                killed_at = occurrence_counts(database)[0]
                start("replacement")
        await producer.flush()
    finally:
        await producer.stop()

    deadline = time.monotonic() + 180
    counts = occurrence_counts(database)
    while counts[0] < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        counts = occurrence_counts(database)
    # Give redeliveries a moment to (not) add anything.
    await asyncio.sleep(3)
    total, distinct, instances = occurrence_counts(database)
    assert killed_at is not None
    assert killed_at < expected, "the kill must happen mid-stream"
    assert total == expected
    assert distinct == expected
    assert instances == expected
