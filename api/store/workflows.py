"""Workflow definitions: insert, read, list, soft delete (each published)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.store._common import WF, Row, outbox
from engine import WorkflowDefinition, workflow_record
from streams import format_time


def _definition(row: Row) -> WorkflowDefinition:
    deleted = row["deleted_at"]
    return WorkflowDefinition(
        id=row["id"],
        config=row["config"],
        created_at=format_time(row["created_at"]),
        deleted_at=format_time(deleted) if deleted is not None else None,
    )


async def insert_workflow(
    conn: AsyncConnection, *, workflow_id: str, config: dict[str, Any], topic: str
) -> Row:
    now = dt.datetime.now(dt.UTC)
    query = (
        insert(WF)
        .values(id=workflow_id, config=config, created_at=now, updated_at=now)
        .returning(*WF.c)
    )
    row = (await conn.execute(query)).mappings().one()
    await outbox(conn, topic, *workflow_record(_definition(row)))
    return row


_LIVE = select(WF).where(
    WF.c.id == bindparam("workflow_id", type_=String), WF.c.deleted_at.is_(None)
)
_LIST = (
    select(WF)
    .where(WF.c.deleted_at.is_(None))
    .order_by(WF.c.created_at, WF.c.id)
    .offset(bindparam("offset", type_=Integer))
    .limit(bindparam("limit", type_=Integer))
)


async def get_workflow(conn: AsyncConnection, workflow_id: str) -> Row | None:
    """The live (not soft-deleted) workflow with this id."""
    return (await conn.execute(_LIVE, {"workflow_id": workflow_id})).mappings().first()


def list_workflows_query(*, offset: int = 0, limit: int | None = None) -> Select[Any]:
    return _LIST.params(offset=offset, limit=limit)


async def list_workflows(
    conn: AsyncConnection, *, offset: int = 0, limit: int | None = None
) -> Sequence[Row]:
    result = await conn.execute(_LIST, {"offset": offset, "limit": limit})
    rows: Sequence[Row] = result.mappings().all()
    return rows


async def delete_workflow(conn: AsyncConnection, workflow_id: str, *, topic: str) -> bool:
    """Soft delete; the record with `deletedAt` tells workers to stop matching
    its triggers (running instances keep their config snapshot)."""
    query = (
        update(WF)
        .where(WF.c.id == workflow_id, WF.c.deleted_at.is_(None))
        .values(deleted_at=func.now())
        .returning(*WF.c)
    )
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return False
    await outbox(conn, topic, *workflow_record(_definition(row)))
    return True
