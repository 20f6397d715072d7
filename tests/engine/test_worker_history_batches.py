"""The projector unpacks the runtime's `history.batch` records, through the real
worker: every good record of a batch becomes its rows, a bad one among them is
counted and logged, and its neighbours are not lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from engine import history
from engine.db import create_db_engine
from engine.settings import DatabaseSettings
from engine.worker import Worker
from streams import KafkaSettings, Topics

pytestmark = pytest.mark.integration

UNPROJECTED = "orchestration_history_records_unprojected_total"


async def test_a_batch_is_projected_record_by_record_and_a_bad_one_is_counted(
    make_database: Callable[..., str],
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    kafka = make_kafka_settings()
    database = make_database()
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO workflows (id, config) VALUES ('w1', '{}')")
    started = history.instance_started(
        {"id": "i-1", "workflowID": "w1", "createdAt": "2025-03-04T10:00:00Z", "variables": {}}
    )
    status = {
        "type": "stage.status",
        "instanceID": "i-1",
        "stage": 0,
        "runID": "r-1",
        "startedAt": "2025-03-04T10:00:01Z",
    }
    value = history.encode_batch(
        [history.encode(started), b'{"type": "instance.exploded"}', history.encode(status)]
    )
    before = REGISTRY.get_sample_value(UNPROJECTED) or 0.0
    db = create_db_engine(DatabaseSettings(database_url=database))
    worker = Worker(kafka, db)
    await worker.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(Topics.from_settings(kafka).history, value, key=b"i-1")
        deadline = time.monotonic() + 30
        while True:
            with psycopg.connect(database, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT i.updated_at, s.started_at FROM workflow_instances i"
                    " JOIN workflow_instance_stage_statuses s ON s.instance_id = i.id"
                    " WHERE i.id = 'i-1' AND s.stage = 0"
                ).fetchone()
            if row is not None:
                break
            assert time.monotonic() < deadline, "the batch's rows never appeared"
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()
        await worker.stop()
        await db.dispose()
    # The stage row of the batch's third record, and the instance's updatedAt it moved.
    assert row[0] == row[1]
    assert (REGISTRY.get_sample_value(UNPROJECTED) or 0.0) - before == 1
