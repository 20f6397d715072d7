"""One record that cannot travel never wedges the outbox (issue: the relay
retried an oversized row forever and every definition behind it stayed in
Postgres, so new triggers silently never fired)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from api.store._common import MAX_OUTBOX_RECORD_BYTES
from engine import schema
from streams import KafkaSettings, Topics
from tests.api.test_api_workflows import _read_topic

pytestmark = pytest.mark.integration


async def test_a_definition_too_large_to_publish_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient,
) -> None:
    # Under the 1 MiB request bound, over what one Kafka record may carry.
    name = "n" * (MAX_OUTBOX_RECORD_BYTES + 100)
    response = await client.post("/v2/workflows", json={"name": name, "stages": []})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errorCode"] == "VALIDATION"
    assert "bytes once encoded" in body["errorMessage"]
    listed = (await client.get("/v2/workflows", params={"pageSize": 100})).json()
    assert all(w.get("name") != name for w in listed["cursor"]["data"])


async def test_an_oversized_row_is_parked_and_the_rows_behind_it_go_out(
    make_client: Callable[..., Any],
    make_database: Callable[..., str],
    kafka_settings: KafkaSettings,
    helpers: Any,
) -> None:
    # A database of its own: the relays of other apps of this module would
    # otherwise park the row (one relay per database holds the lock).
    async with make_client(check=False, database=make_database()) as client:
        db = client.app.state.services.db
        topics = Topics.from_settings(kafka_settings)
        # Written behind the API's back (an older version, a bigger limit):
        # 2 MiB, twice what the relay's producer sends.
        async with db.begin() as conn:
            await conn.execute(
                insert(schema.outbox).values(
                    topic=topics.definitions, key=b"workflow:huge", value=b"x" * (2 << 20)
                )
            )
        workflow = await helpers.create_workflow(client)
        records = await _read_topic(
            kafka_settings, topics.definitions, f"workflow:{workflow['id']}", 1
        )
        assert records, "the definition behind the oversized row was published"

        outbox = schema.outbox
        for _ in range(100):
            async with db.connect() as conn:
                rows = (await conn.execute(select(outbox.c.key, outbox.c.parked_reason))).all()
            if rows and rows[0].parked_reason:
                break
            await asyncio.sleep(0.05)
        assert [(r.key, "MessageSizeTooLarge" in r.parked_reason) for r in rows] == [
            (b"workflow:huge", True)
        ]
        metrics = (await client.get("/metrics")).text
        assert "orchestration_outbox_parked_total 1.0" in metrics
