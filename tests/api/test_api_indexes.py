"""Every list filter is served by an index in list order (EXPLAIN of the
queries the API issues, on a table big enough for the planner to care)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, Select, create_engine, text
from sqlalchemy.dialects import postgresql

from api.store.instances import list_instances_query
from api.store.triggers import list_occurrences_query, list_triggers_query
from api.store.workflows import list_workflows_query
from engine.settings import sqlalchemy_url

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(make_database: Any) -> Iterator[Engine]:
    engine = create_engine(sqlalchemy_url(make_database()))
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workflows (id, config, created_at, updated_at, deleted_at) "
                "SELECT 'w' || i, '{}'::jsonb, :start, :start, "
                "CASE WHEN i % 10 = 0 THEN :start END FROM generate_series(1, 200) i"
            ),
            {"start": start},
        )
        conn.execute(
            text(
                "INSERT INTO workflow_instances (id, workflow_id, created_at, updated_at,"
                " terminated) SELECT 'i' || i, 'w' || (i % 200 + 1),"
                " :start + i * interval '1 second', :start, i % 50 <> 0"
                " FROM generate_series(1, 20000) i"
            ),
            {"start": start},
        )
        conn.execute(
            text(
                "INSERT INTO triggers (id, workflow_id, name, event, created_at) "
                "SELECT 't' || i, 'w1', 'trigger ' || i, 'E', :start + i * interval '1 second'"
                " FROM generate_series(1, 2000) i"
            ),
            {"start": start},
        )
        conn.execute(
            text(
                "INSERT INTO triggers_occurrences (id, trigger_id, workflow_instance_id, date,"
                " event) SELECT 'o' || i, 't' || (i % 20 + 1), 'i' || i,"
                " :start + i * interval '1 second', '{}'::jsonb FROM generate_series(1, 20000) i"
            ),
            {"start": start},
        )
        conn.execute(text("ANALYZE"))
    yield engine
    engine.dispose()


def _plan(db: Engine, query: Select[Any]) -> dict[str, Any]:
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with db.connect() as conn:
        raw = conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
    plan: dict[str, Any] = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    return plan


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize(
    ("name", "query", "table", "index"),
    [
        ("workflows", list_workflows_query(limit=16), "workflows", "workflows_live_order"),
        (
            "instances",
            list_instances_query(limit=16),
            "workflow_instances",
            "workflow_instances_order_covering",
        ),
        (
            "instances, deep page",
            list_instances_query(offset=15000, limit=16),
            "workflow_instances",
            "workflow_instances_order_covering",
        ),
        (
            "instances by workflow",
            list_instances_query(workflow_id="w5", limit=16),
            "workflow_instances",
            "workflow_instances_by_workflow",
        ),
        (
            "running instances",
            list_instances_query(running=True, limit=16),
            "workflow_instances",
            "workflow_instances_running",
        ),
        (
            "running instances by workflow",
            list_instances_query(workflow_id="w5", running=True, limit=16),
            "workflow_instances",
            "workflow_instances_running_by_workflow",
        ),
        ("triggers", list_triggers_query(limit=16), "triggers", "triggers_live_order"),
        (
            "triggers by name",
            list_triggers_query(name="trigger 1", limit=16),
            "triggers",
            "triggers_live_order",
        ),
        (
            "occurrences",
            list_occurrences_query("t3", limit=16),
            "triggers_occurrences",
            "triggers_occurrences_by_trigger",
        ),
    ],
)
def test_list_uses_its_index(
    db: Engine, name: str, query: Select[Any], table: str, index: str
) -> None:
    plan = _plan(db, query)
    nodes = list(_nodes(plan))
    scans = [n for n in nodes if n.get("Relation Name") == table]
    assert scans, f"{name}: {table} not in plan"
    assert all(n["Node Type"] != "Seq Scan" for n in scans), f"{name}: {plan}"
    assert any(n.get("Index Name") == index for n in nodes), f"{name}: {plan}"
    # The index delivers the list order: no sort of the whole filtered set
    # (a sort of the few rows a selective filter leaves is fine).
    sorts = [n for n in nodes if n["Node Type"] == "Sort"]
    assert all(n["Plan Rows"] <= 100 for n in sorts), f"{name}: {plan}"
