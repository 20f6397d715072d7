"""Reads and writes of the projection (parameterised SQLAlchemy Core only).

Writes of definitions go with their outbox row in the caller's transaction.
Every list has a stable order: creation time, then id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.db import schema
from engine.definitions import (
    WorkflowDefinition,
    trigger_record,
    trigger_tombstone,
    workflow_record,
)
from streams import format_time
from triggers import Trigger

Row = Mapping[Any, Any]

WF = schema.workflows
TR = schema.triggers
INST = schema.workflow_instances
STAGE = schema.workflow_instance_stage_statuses
OCC = schema.triggers_occurrences


async def _outbox(conn: AsyncConnection, topic: str, key: bytes, value: bytes | None) -> None:
    await conn.execute(insert(schema.outbox).values(topic=topic, key=key, value=value))


def _workflow_definition(row: Row) -> WorkflowDefinition:
    deleted = row["deleted_at"]
    return WorkflowDefinition(
        id=row["id"],
        config=row["config"],
        created_at=format_time(row["created_at"]),
        deleted_at=format_time(deleted) if deleted is not None else None,
    )


# -- workflows ---------------------------------------------------------------


async def insert_workflow(
    conn: AsyncConnection, *, workflow_id: str, config: dict[str, Any], topic: str
) -> Row:
    now = dt.datetime.now(dt.UTC)
    row = (
        (
            await conn.execute(
                insert(WF)
                .values(id=workflow_id, config=config, created_at=now, updated_at=now)
                .returning(*WF.c)
            )
        )
        .mappings()
        .one()
    )
    await _outbox(conn, topic, *workflow_record(_workflow_definition(row)))
    return row


async def get_workflow(conn: AsyncConnection, workflow_id: str) -> Row | None:
    return (await conn.execute(select(WF).where(WF.c.id == workflow_id))).mappings().first()


async def list_workflows(
    conn: AsyncConnection, *, offset: int = 0, limit: int | None = None
) -> Sequence[Row]:
    query = (
        select(WF)
        .where(WF.c.deleted_at.is_(None))
        .order_by(WF.c.created_at, WF.c.id)
        .offset(offset)
        .limit(limit)
    )
    return (await conn.execute(query)).mappings().all()


# -- triggers ----------------------------------------------------------------


async def insert_trigger(conn: AsyncConnection, trigger: Trigger, *, topic: str) -> Row:
    row = (
        (
            await conn.execute(
                insert(TR)
                .values(
                    id=trigger.id,
                    workflow_id=trigger.workflow_id,
                    name=trigger.name,
                    event=trigger.event,
                    version=trigger.version,
                    filter=trigger.filter,
                    vars=dict(trigger.vars) or None,
                    created_at=dt.datetime.now(dt.UTC),
                )
                .returning(*TR.c)
            )
        )
        .mappings()
        .one()
    )
    await _outbox(conn, topic, *trigger_record(trigger))
    return row


async def get_trigger(conn: AsyncConnection, trigger_id: str) -> Row | None:
    query = select(TR).where(TR.c.id == trigger_id, TR.c.deleted_at.is_(None))
    return (await conn.execute(query)).mappings().first()


async def list_triggers(
    conn: AsyncConnection, *, name: str = "", offset: int = 0, limit: int | None = None
) -> Sequence[Row]:
    query = select(TR).where(TR.c.deleted_at.is_(None))
    if name:
        # Case-insensitive substring, as upstream's fix does; the pattern's
        # own wildcards are escaped so a name is matched literally.
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(TR.c.name.ilike(f"%{escaped}%", escape="\\"))
    query = query.order_by(TR.c.created_at, TR.c.id).offset(offset).limit(limit)
    return (await conn.execute(query)).mappings().all()


async def delete_trigger(conn: AsyncConnection, trigger_id: str, *, topic: str) -> bool:
    result = await conn.execute(
        update(TR)
        .where(TR.c.id == trigger_id, TR.c.deleted_at.is_(None))
        .values(deleted_at=func.now())
        .returning(TR.c.id)
    )
    if result.first() is None:
        return False
    await _outbox(conn, topic, *trigger_tombstone(trigger_id))
    return True


# -- occurrences and instances -----------------------------------------------


async def list_occurrences(
    conn: AsyncConnection, trigger_id: str, *, offset: int = 0, limit: int | None = None
) -> Sequence[tuple[Row, Row | None]]:
    inst = INST.alias("inst")
    query = (
        select(OCC, *(c.label(f"inst_{c.name}") for c in inst.c))
        .select_from(OCC.outerjoin(inst, inst.c.id == OCC.c.workflow_instance_id))
        .where(OCC.c.trigger_id == trigger_id)
        .order_by(OCC.c.date, OCC.c.id)
        .offset(offset)
        .limit(limit)
    )
    out: list[tuple[Row, Row | None]] = []
    for row in (await conn.execute(query)).mappings().all():
        instance = (
            {c.name: row[f"inst_{c.name}"] for c in inst.c} if row["inst_id"] is not None else None
        )
        out.append((row, instance))
    return out


async def get_instance(
    conn: AsyncConnection, instance_id: str
) -> tuple[Row, Row, Sequence[Row]] | None:
    row = (
        (
            await conn.execute(
                select(INST, *(c.label(f"wf_{c.name}") for c in WF.c))
                .select_from(INST.join(WF, WF.c.id == INST.c.workflow_id))
                .where(INST.c.id == instance_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    workflow = {c.name: row[f"wf_{c.name}"] for c in WF.c}
    statuses = (
        (
            await conn.execute(
                select(STAGE)
                .where(STAGE.c.instance_id == instance_id)
                .order_by(STAGE.c.stage, STAGE.c.started_at)
            )
        )
        .mappings()
        .all()
    )
    return row, workflow, statuses


async def list_instances(
    conn: AsyncConnection,
    *,
    workflow_id: str = "",
    running: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> Sequence[tuple[Row, Row]]:
    conditions: list[ColumnElement[bool]] = [WF.c.deleted_at.is_(None)]
    if workflow_id:
        conditions.append(INST.c.workflow_id == workflow_id)
    if running:
        conditions.append(INST.c.terminated.is_(False))
    query = (
        select(INST, *(c.label(f"wf_{c.name}") for c in WF.c))
        .select_from(INST.join(WF, WF.c.id == INST.c.workflow_id))
        .where(and_(*conditions))
        .order_by(INST.c.created_at, INST.c.id)
        .offset(offset)
        .limit(limit)
    )
    rows = (await conn.execute(query)).mappings().all()
    return [(r, {c.name: r[f"wf_{c.name}"] for c in WF.c}) for r in rows]
