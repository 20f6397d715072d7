"""Workflow instances: start (row + start command), read, list, commands, histories."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.gojson import go_json
from api.store._common import ACT, HIST, INST, STAGE, WF, Row, outbox, prefixed
from engine import commands
from streams import format_time


async def send_command(conn: AsyncConnection, command: commands.Command, *, topic: str) -> None:
    await outbox(conn, topic, *commands.encode(command))


async def insert_instance(
    conn: AsyncConnection,
    *,
    instance_id: str,
    workflow: Row,
    variables: Mapping[str, str],
    command_id: str,
    topic: str,
) -> Row:
    """The instance row and its start command, in the caller's transaction."""
    now = dt.datetime.now(dt.UTC)
    query = (
        insert(INST)
        .values(
            id=instance_id,
            workflow_id=workflow["id"],
            created_at=now,
            updated_at=now,
            terminated=False,
            variables=dict(variables),
        )
        .returning(*INST.c)
    )
    row = (await conn.execute(query)).mappings().one()
    start = commands.StartInstance(
        id=command_id,
        instance_id=instance_id,
        workflow_id=workflow["id"],
        config=go_json(workflow["config"]),
        variables=dict(variables),
        created_at=format_time(now),
    )
    await send_command(conn, start, topic=topic)
    return row


async def get_instance_row(conn: AsyncConnection, instance_id: str) -> Row | None:
    return (await conn.execute(select(INST).where(INST.c.id == instance_id))).mappings().first()


async def get_instance(
    conn: AsyncConnection, instance_id: str
) -> tuple[Row, Row, Sequence[Row]] | None:
    """The instance, its workflow (deleted or not) and its stage status rows."""
    query = (
        select(INST, *(c.label(f"wf_{c.name}") for c in WF.c))
        .select_from(INST.join(WF, WF.c.id == INST.c.workflow_id))
        .where(INST.c.id == instance_id)
    )
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
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
    return row, prefixed(row, "wf_", WF.c), statuses


async def list_instances(
    conn: AsyncConnection,
    *,
    workflow_id: str = "",
    running: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> Sequence[tuple[Row, Row]]:
    """Instances of live workflows, with their workflow; no status rows."""
    query = list_instances_query(
        workflow_id=workflow_id, running=running, offset=offset, limit=limit
    )
    rows = (await conn.execute(query)).mappings().all()
    return [(r, prefixed(r, "wf_", WF.c)) for r in rows]


def list_instances_query(
    *, workflow_id: str = "", running: bool = False, offset: int = 0, limit: int | None = None
) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = [WF.c.deleted_at.is_(None)]
    if workflow_id:
        conditions.append(INST.c.workflow_id == workflow_id)
    if running:
        # Spelled as the partial indexes' predicate (NOT terminated) so they apply.
        conditions.append(~INST.c.terminated)
    return (
        select(INST, *(c.label(f"wf_{c.name}") for c in WF.c))
        .select_from(INST.join(WF, WF.c.id == INST.c.workflow_id))
        .where(and_(*conditions))
        .order_by(INST.c.created_at, INST.c.id)
        .offset(offset)
        .limit(limit)
    )


async def list_instance_history(conn: AsyncConnection, instance_id: str) -> Sequence[Row]:
    query = select(HIST).where(HIST.c.instance_id == instance_id).order_by(HIST.c.stage)
    return (await conn.execute(query)).mappings().all()


async def stage_started(conn: AsyncConnection, instance_id: str, stage: int) -> bool:
    """Whether the stage began executing (a stage that failed validation did not)."""
    query = select(exists().where(HIST.c.instance_id == instance_id, HIST.c.stage == stage))
    return bool(await conn.scalar(query))


async def list_stage_history(conn: AsyncConnection, instance_id: str, stage: int) -> Sequence[Row]:
    query = (
        select(ACT)
        .where(ACT.c.instance_id == instance_id, ACT.c.stage == stage)
        .order_by(ACT.c.position)
    )
    return (await conn.execute(query)).mappings().all()
