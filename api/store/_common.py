"""Table aliases and the outbox write every store module shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from api.errors import validation
from engine import schema
from streams.producers import DEFAULT_MAX_REQUEST_BYTES

Row = Mapping[Any, Any]

WF = schema.workflows
TR = schema.triggers
INST = schema.workflow_instances
STAGE = schema.workflow_instance_stage_statuses
OCC = schema.triggers_occurrences
HIST = schema.workflow_instance_history
ACT = schema.workflow_stage_history


# The relay's producer sends requests of at most 1 MiB (the broker's default
# `message.max.bytes`); a record batch adds well under 1 KiB around one
# record. A row that could not travel would be parked by the relay and its
# definition would never reach a worker: refuse it here, inside the caller's
# transaction, so nothing of the request is written.
MAX_OUTBOX_RECORD_BYTES = DEFAULT_MAX_REQUEST_BYTES - 16_384


async def outbox(conn: AsyncConnection, topic: str, key: bytes, value: bytes | None) -> None:
    size = len(key) + len(value or b"")
    if size > MAX_OUTBOX_RECORD_BYTES:
        raise validation(
            f"the record this request publishes is {size} bytes once encoded, "
            f"more than the {MAX_OUTBOX_RECORD_BYTES} a Kafka record may carry"
        )
    await conn.execute(insert(schema.outbox).values(topic=topic, key=key, value=value))


def prefixed(row: Row, prefix: str, columns: Any) -> dict[str, Any]:
    """The columns of a joined table, labelled `<prefix><name>` in `row`."""
    return {c.name: row[f"{prefix}{c.name}"] for c in columns}
