"""The API's migrations (0002-0006) go down and up again cleanly."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from engine.db import migrate
from engine.db.migrate import alembic_config
from engine.settings import sqlalchemy_url

pytestmark = pytest.mark.integration


def test_down_and_up(make_database: Any) -> None:
    url = make_database()
    command.downgrade(alembic_config(url), "0001")
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        assert "workflow_instance_history" not in tables
        migrate(url)
        with engine.connect() as conn:
            inspector = inspect(conn)
            tables = set(inspector.get_table_names())
            indexes = {i["name"] for i in inspector.get_indexes("workflow_instances")}
            indexes |= {i["name"] for i in inspector.get_indexes("outbox")}
            activity_columns = {c["name"] for c in inspector.get_columns("workflow_stage_history")}
            status_columns = {
                c["name"] for c in inspector.get_columns("workflow_instance_stage_statuses")
            }
    finally:
        engine.dispose()
    assert {"workflow_instance_history", "workflow_stage_history"} <= tables
    assert {
        "workflow_instances_order_covering",
        "workflow_instances_running_by_workflow",
        "outbox_pending",
    } <= indexes
    assert "workflow_instances_order" not in indexes
    assert {
        "paused_at",
        "pause_reason",
        "max_attempts",
        "last_failure_type",
        "history_offset",
    } <= activity_columns
    assert "history_offset" in status_columns
