"""Driver tuning of the API's database engine."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
from psycopg.types.json import set_json_loads
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


def _loads(data: bytes | bytearray | memoryview | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson refuses integers beyond 64 bits, which jsonb may hold.
        return json.loads(bytes(data) if isinstance(data, memoryview) else data)


async def warm_pool(db: AsyncEngine, connections: int) -> None:
    """Open the pool's connections now, so the first requests after a start
    (or a deploy) do not each pay a connection set-up."""

    async def one() -> None:
        async with db.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
            await asyncio.sleep(0.05)  # hold it, so the others open their own

    await asyncio.gather(*(one() for _ in range(connections)))


def use_fast_json(db: AsyncEngine) -> None:
    """Decode json/jsonb columns with orjson: a list page decodes ~16 documents."""

    @event.listens_for(db.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        set_json_loads(_loads, dbapi_connection.driver_connection)
