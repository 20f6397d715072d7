"""Workflow instances: start (row + start command), read, list, commands, histories."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

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
        config=workflow["config"],
        variables=dict(variables),
        created_at=format_time(now),
    )
    await send_command(conn, start, topic=topic)
    return row


# Read statements are built once: constructing a Select and its cache key
# costs more than running it (about 0.4 ms a request, measured).
_WF_COLUMNS = [c.label(f"wf_{c.name}") for c in WF.c]
_INSTANCE = (
    select(INST, *_WF_COLUMNS)
    .select_from(INST.join(WF, WF.c.id == INST.c.workflow_id))
    .where(INST.c.id == bindparam("instance_id", type_=String))
)
_STATUSES = (
    select(STAGE)
    .where(STAGE.c.instance_id == bindparam("instance_id", type_=String))
    .order_by(STAGE.c.stage, STAGE.c.started_at)
)
_INSTANCE_ROW = select(INST).where(INST.c.id == bindparam("instance_id", type_=String))


async def get_instance_row(conn: AsyncConnection, instance_id: str) -> Row | None:
    result = await conn.execute(_INSTANCE_ROW, {"instance_id": instance_id})
    return result.mappings().first()


async def get_instance(
    conn: AsyncConnection, instance_id: str
) -> tuple[Row, Row, Sequence[Row]] | None:
    """The instance, its workflow (deleted or not) and its stage status rows."""
    params = {"instance_id": instance_id}
    row = (await conn.execute(_INSTANCE, params)).mappings().first()
    if row is None:
        return None
    statuses = (await conn.execute(_STATUSES, params)).mappings().all()
    return row, prefixed(row, "wf_", WF.c), statuses


@functools.cache
def _list_statement(by_workflow: bool, running: bool) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = [WF.c.deleted_at.is_(None)]
    if by_workflow:
        conditions.append(INST.c.workflow_id == bindparam("workflow_id", type_=String))
    if running:
        # Spelled as the partial indexes' predicate (NOT terminated) so they apply.
        conditions.append(~INST.c.terminated)
    # Deferred join: the offset walk reads index columns only (the order
    # index covers workflow_id), then only the page's rows are read whole.
    page = (
        select(INST.c.id, INST.c.created_at)
        .select_from(INST.join(WF, WF.c.id == INST.c.workflow_id))
        .where(and_(*conditions))
        .order_by(INST.c.created_at, INST.c.id)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))  # NULL: no limit (v1 lists)
        .subquery("page")
    )
    return (
        select(INST, *_WF_COLUMNS)
        .select_from(
            page.join(INST, INST.c.id == page.c.id).join(WF, WF.c.id == INST.c.workflow_id)
        )
        .order_by(page.c.created_at, page.c.id)
    )


async def list_instances(
    conn: AsyncConnection,
    *,
    workflow_id: str = "",
    running: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> Sequence[tuple[Row, Row]]:
    """Instances of live workflows, with their workflow; no status rows."""
    params = {"workflow_id": workflow_id, "offset": offset, "limit": limit}
    rows = (await conn.execute(_list_statement(bool(workflow_id), running), params)).mappings()
    return [(r, prefixed(r, "wf_", WF.c)) for r in rows.all()]


def list_instances_query(
    *, workflow_id: str = "", running: bool = False, offset: int = 0, limit: int | None = None
) -> Select[Any]:
    """The statement `list_instances` runs, with its values bound (for EXPLAIN)."""
    statement = _list_statement(bool(workflow_id), running)
    return statement.params(workflow_id=workflow_id, offset=offset, limit=limit)


_PAUSED = (
    select(ACT)
    .where(
        ACT.c.instance_id == bindparam("instance_id", type_=String),
        ACT.c.paused_at.is_not(None),
        ACT.c.terminated.is_(False),
    )
    .order_by(ACT.c.stage, ACT.c.position)
)


async def list_paused_activities(conn: AsyncConnection, instance_id: str) -> Sequence[Row]:
    """The instance's activities on hold (pause mode, BEHAVIOUR 14.4)."""
    return (await conn.execute(_PAUSED, {"instance_id": instance_id})).mappings().all()


async def lock_stage_status(conn: AsyncConnection, instance_id: str, stage: int) -> Row | None:
    """The stage's status row, locked until the transaction ends: resumes of
    one stage are serialised across API replicas."""
    query = (
        select(STAGE)
        .where(STAGE.c.instance_id == instance_id, STAGE.c.stage == stage)
        .order_by(STAGE.c.started_at.desc())
        .limit(1)
        .with_for_update()
    )
    return (await conn.execute(query)).mappings().first()


async def get_activity(
    conn: AsyncConnection, instance_id: str, stage: int, position: int
) -> Row | None:
    query = select(ACT).where(
        ACT.c.instance_id == instance_id, ACT.c.stage == stage, ACT.c.position == position
    )
    return (await conn.execute(query)).mappings().first()


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
