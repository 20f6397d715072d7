"""Table aliases and the outbox write every store module shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from engine import schema

Row = Mapping[Any, Any]

WF = schema.workflows
TR = schema.triggers
INST = schema.workflow_instances
STAGE = schema.workflow_instance_stage_statuses
OCC = schema.triggers_occurrences
HIST = schema.workflow_instance_history
ACT = schema.workflow_stage_history


async def outbox(conn: AsyncConnection, topic: str, key: bytes, value: bytes | None) -> None:
    await conn.execute(insert(schema.outbox).values(topic=topic, key=key, value=value))


def prefixed(row: Row, prefix: str, columns: Any) -> dict[str, Any]:
    """The columns of a joined table, labelled `<prefix><name>` in `row`."""
    return {c.name: row[f"{prefix}{c.name}"] for c in columns}
