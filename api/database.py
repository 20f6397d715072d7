"""Driver tuning of the API's database engine."""

from __future__ import annotations

import asyncio
from typing import Any

from psycopg.types.json import set_json_loads
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from streams import codec


async def warm_pool(db: AsyncEngine, connections: int) -> None:
    """Open the pool's connections now, so the first requests after a start
    (or a deploy) do not each pay a connection set-up."""

    async def one() -> None:
        async with db.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
            await asyncio.sleep(0.05)  # hold it, so the others open their own

    await asyncio.gather(*(one() for _ in range(connections)))


def use_fast_json(db: AsyncEngine) -> None:
    """Decode json/jsonb columns with the codec (orjson, exact beyond 64 bits):
    a list page decodes ~16 documents."""

    @event.listens_for(db.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        set_json_loads(codec.loads, dbapi_connection.driver_connection)
