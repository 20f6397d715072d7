"""Writes history records into the Postgres projection, idempotently.

One transaction per batch; every insert is `ON CONFLICT DO NOTHING` on a
deterministic id, so a batch replayed after a crash (offsets are committed
only after the database commit) changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.db import schema


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


class ProjectionWriter:
    def __init__(self, db: AsyncEngine) -> None:
        self._db = db

    async def write(self, records: Sequence[dict[str, Any]]) -> None:
        instances: list[dict[str, Any]] = []
        occurrences: list[dict[str, Any]] = []
        for record in records:
            if record.get("type") != "trigger.occurred":
                continue
            instance = record.get("instance")
            if instance:
                created = parse_time(instance["createdAt"])
                instances.append(
                    {
                        "id": instance["id"],
                        "workflow_id": instance["workflowID"],
                        "created_at": created,
                        "updated_at": created,
                        "terminated": False,
                        "variables": instance["variables"],
                    }
                )
            occ = record["occurrence"]
            occurrences.append(
                {
                    "id": occ["id"],
                    "trigger_id": occ["triggerID"],
                    "workflow_instance_id": occ.get("workflowInstanceID"),
                    "date": parse_time(occ["date"]),
                    "event": occ["event"],
                    "error": occ.get("error"),
                }
            )
        if not instances and not occurrences:
            return
        async with self._db.begin() as conn:
            if instances:
                await conn.execute(
                    insert(schema.workflow_instances).on_conflict_do_nothing(index_elements=["id"]),
                    instances,
                )
            if occurrences:
                await conn.execute(
                    insert(schema.triggers_occurrences).on_conflict_do_nothing(
                        index_elements=["id"]
                    ),
                    occurrences,
                )
