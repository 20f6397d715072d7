"""Triggers (insert, read, list, soft delete) and their occurrences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.store._common import INST, OCC, TR, Row, outbox, prefixed
from engine import trigger_record, trigger_tombstone
from triggers import Trigger


async def insert_trigger(conn: AsyncConnection, trigger: Trigger, *, topic: str) -> Row:
    query = (
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
    row = (await conn.execute(query)).mappings().one()
    await outbox(conn, topic, *trigger_record(trigger))
    return row


_LIVE = select(TR).where(
    TR.c.id == bindparam("trigger_id", type_=String), TR.c.deleted_at.is_(None)
)


async def get_trigger(conn: AsyncConnection, trigger_id: str) -> Row | None:
    return (await conn.execute(_LIVE, {"trigger_id": trigger_id})).mappings().first()


async def list_triggers(
    conn: AsyncConnection, *, name: str = "", offset: int = 0, limit: int | None = None
) -> Sequence[Row]:
    query = list_triggers_query(name=name, offset=offset, limit=limit)
    rows: Sequence[Row] = (await conn.execute(query)).mappings().all()
    return rows


def list_triggers_query(
    *, name: str = "", offset: int = 0, limit: int | None = None
) -> Select[Any]:
    query = select(TR).where(TR.c.deleted_at.is_(None))
    if name:
        # Case-insensitive substring, as upstream's fix does; the pattern's
        # own wildcards are escaped so a name is matched literally.
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(TR.c.name.ilike(f"%{escaped}%", escape="\\"))
    return query.order_by(TR.c.created_at, TR.c.id).offset(offset).limit(limit)


async def delete_trigger(conn: AsyncConnection, trigger_id: str, *, topic: str) -> bool:
    result = await conn.execute(
        update(TR)
        .where(TR.c.id == trigger_id, TR.c.deleted_at.is_(None))
        .values(deleted_at=func.now())
        .returning(TR.c.id)
    )
    if result.first() is None:
        return False
    await outbox(conn, topic, *trigger_tombstone(trigger_id))
    return True


async def known_occurrences(conn: AsyncConnection, ids: Collection[str]) -> set[str]:
    """Which of `ids` are recorded occurrences (a replay sends nothing for those)."""
    rows = await conn.execute(select(OCC.c.id).where(OCC.c.id.in_(list(ids))))
    return {row[0] for row in rows}


async def list_occurrences(
    conn: AsyncConnection, trigger_id: str, *, offset: int = 0, limit: int | None = None
) -> Sequence[tuple[Row, Row | None]]:
    """Occurrences of a trigger, deleted or not, with the instance each started."""
    params = {"trigger_id": trigger_id, "offset": offset, "limit": limit}
    return [
        (row, prefixed(row, "inst_", _INST.c) if row["inst_id"] is not None else None)
        for row in (await conn.execute(_OCCURRENCES, params)).mappings().all()
    ]


_INST = INST.alias("inst")
_OCCURRENCES = (
    select(OCC, *(c.label(f"inst_{c.name}") for c in _INST.c))
    .select_from(OCC.outerjoin(_INST, _INST.c.id == OCC.c.workflow_instance_id))
    .where(OCC.c.trigger_id == bindparam("trigger_id", type_=String))
    .order_by(OCC.c.date, OCC.c.id)
    .offset(bindparam("offset", type_=Integer))
    .limit(bindparam("limit", type_=Integer))
)


def list_occurrences_query(
    trigger_id: str, *, offset: int = 0, limit: int | None = None
) -> Select[Any]:
    return _OCCURRENCES.params(trigger_id=trigger_id, offset=offset, limit=limit)
