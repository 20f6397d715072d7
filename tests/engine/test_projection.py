from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from engine.db import create_db_engine, schema
from engine.history import trigger_occurred
from engine.projection import ProjectionWriter
from engine.settings import DatabaseSettings

pytestmark = pytest.mark.integration


def record(occurrence_id: str, *, instance: bool = True) -> dict[str, Any]:
    occurrence: dict[str, Any] = {
        "id": occurrence_id,
        "triggerID": "t1",
        "date": "2025-03-04T10:22:00.001Z",
        "event": {"type": "E", "payload": {"n": 2**70}},
    }
    body = None
    if instance:
        occurrence["workflowInstanceID"] = f"{occurrence_id}_1"
        body = {
            "id": f"{occurrence_id}_1",
            "workflowID": "w1",
            "createdAt": "2025-03-04T10:22:00.001Z",
            "variables": {"a": "1"},
        }
    else:
        occurrence["error"] = "boom"
    return dict(trigger_occurred(occurrence, body))  # type: ignore[arg-type]


async def test_replaying_a_batch_changes_nothing(make_database: Callable[..., str]) -> None:
    db = create_db_engine(DatabaseSettings(database_url=make_database()))
    try:
        async with db.begin() as conn:
            await conn.execute(insert(schema.workflows).values(id="w1", config={"stages": []}))
            await conn.execute(insert(schema.triggers).values(id="t1", workflow_id="w1", event="E"))
        writer = ProjectionWriter(db)
        batch = [record("o1"), record("o2", instance=False), record("o1")]
        await writer.write(batch)
        await writer.write(batch)
        async with db.connect() as conn:
            occurrences = (
                (
                    await conn.execute(
                        select(schema.triggers_occurrences).order_by(
                            schema.triggers_occurrences.c.id
                        )
                    )
                )
                .mappings()
                .all()
            )
            instances = await conn.scalar(
                select(func.count()).select_from(schema.workflow_instances)
            )
        assert [o["id"] for o in occurrences] == ["o1", "o2"]
        assert occurrences[0]["workflow_instance_id"] == "o1_1"
        assert occurrences[0]["event"]["payload"]["n"] == 2**70
        assert occurrences[1]["workflow_instance_id"] is None
        assert occurrences[1]["error"] == "boom"
        assert instances == 1
    finally:
        await db.dispose()
