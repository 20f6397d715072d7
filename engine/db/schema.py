"""The Postgres projection: upstream's tables plus this service's own.

Upstream's five tables keep their names and columns (section 12 of the
behaviour spec) so that operators recognise them; timestamps are
`timestamptz` holding UTC. Every list filter of the API has an index whose
trailing columns are the list order (created_at, id).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

_now = text("now()")


def _ts(name: str, *, nullable: bool = False, default: bool = False) -> Column[object]:
    return Column(
        name, DateTime(timezone=True), nullable=nullable, server_default=_now if default else None
    )


workflows = Table(
    "workflows",
    metadata,
    Column("id", String, primary_key=True),
    Column("config", JSONB, nullable=False),
    _ts("created_at", default=True),
    _ts("updated_at", default=True),
    _ts("deleted_at", nullable=True),
    Index("workflows_live_order", "created_at", "id", postgresql_where=text("deleted_at IS NULL")),
)

workflow_instances = Table(
    "workflow_instances",
    metadata,
    Column("id", String, primary_key=True),
    Column("workflow_id", String, ForeignKey("workflows.id"), nullable=False),
    _ts("created_at", default=True),
    _ts("updated_at", default=True),
    Column("terminated", Boolean, nullable=False, server_default=text("false")),
    _ts("terminated_at", nullable=True),
    Column("error", Text, nullable=True),
    # Instance variables (string map): not exposed by the API, needed to run.
    Column("variables", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # Covers workflow_id: deep pages walk the index only (migration 0003).
    Index(
        "workflow_instances_order_covering",
        "created_at",
        "id",
        postgresql_include=["workflow_id"],
    ),
    Index("workflow_instances_by_workflow", "workflow_id", "created_at", "id"),
    Index(
        "workflow_instances_running",
        "created_at",
        "id",
        postgresql_where=text("NOT terminated"),
    ),
    # `GET /instances?workflowID=..&running=true` (migration 0002).
    Index(
        "workflow_instances_running_by_workflow",
        "workflow_id",
        "created_at",
        "id",
        postgresql_where=text("NOT terminated"),
    ),
)

workflow_instance_stage_statuses = Table(
    "workflow_instance_stage_statuses",
    metadata,
    Column("instance_id", String, ForeignKey("workflow_instances.id"), primary_key=True),
    Column("stage", Integer, primary_key=True),
    Column("temporal_run_id", String, primary_key=True),
    _ts("started_at", default=True),
    _ts("terminated_at", nullable=True),
    Column("error", Text, nullable=True),
    # Offset of the history record the row was projected from (migration 0006).
    Column("history_offset", BigInteger, nullable=True),
)

triggers = Table(
    "triggers",
    metadata,
    Column("id", String, primary_key=True),
    Column("workflow_id", String, ForeignKey("workflows.id"), nullable=False),
    Column("name", String, nullable=False, server_default=text("''")),
    Column("event", String, nullable=False),
    Column("version", String, nullable=True),
    Column("filter", Text, nullable=True),
    Column("vars", JSONB, nullable=True),
    _ts("created_at", default=True),
    _ts("deleted_at", nullable=True),
    Index("triggers_live_order", "created_at", "id", postgresql_where=text("deleted_at IS NULL")),
)

triggers_occurrences = Table(
    "triggers_occurrences",
    metadata,
    Column("id", String, primary_key=True),
    Column("trigger_id", String, ForeignKey("triggers.id"), nullable=False),
    Column("workflow_instance_id", String, ForeignKey("workflow_instances.id"), nullable=True),
    _ts("date", default=True),
    Column("event", JSONB, nullable=False),
    Column("error", Text, nullable=True),
    Index("triggers_occurrences_by_trigger", "trigger_id", "date", "id"),
)

# Histories (BEHAVIOUR.md 4.5 and 4.6), written by the history projector and
# read by `GET /instances/{id}/history` and `.../stages/{n}/history`
# (migration 0002). Upstream keeps them in Temporal only.
workflow_instance_history = Table(
    "workflow_instance_history",
    metadata,
    Column("instance_id", String, ForeignKey("workflow_instances.id"), primary_key=True),
    Column("stage", Integer, primary_key=True),
    Column("name", String, nullable=False),
    Column("input", JSONB, nullable=False),
    Column("error", Text, nullable=True),
    Column("terminated", Boolean, nullable=False, server_default=text("false")),
    _ts("started_at", default=True),
    _ts("terminated_at", nullable=True),
    Column("history_offset", BigInteger, nullable=True),
)

workflow_stage_history = Table(
    "workflow_stage_history",
    metadata,
    Column("instance_id", String, ForeignKey("workflow_instances.id"), primary_key=True),
    Column("stage", Integer, primary_key=True),
    # Position of the activity within its stage (activities run one by one).
    Column("position", Integer, primary_key=True),
    Column("name", String, nullable=False),
    Column("input", JSONB, nullable=False),
    Column("output", JSONB, nullable=True),
    Column("error", Text, nullable=True),
    Column("terminated", Boolean, nullable=False, server_default=text("false")),
    _ts("started_at", default=True),
    _ts("terminated_at", nullable=True),
    Column("last_failure", Text, nullable=True),
    Column("attempt", Integer, nullable=False, server_default=text("1")),
    _ts("next_execution", nullable=True),
    # The hold of an activity paused in pause mode (14.4); NULL when not held.
    _ts("paused_at", nullable=True),
    Column("pause_reason", Text, nullable=True),
    Column("max_attempts", Integer, nullable=True),
    Column("last_failure_type", Text, nullable=True),
    Column("history_offset", BigInteger, nullable=True),
)

# Transactional outbox: the API writes a definition and its outbox row in one
# transaction; the relay publishes rows in id order and deletes them. A row
# the broker refuses for good (too large) is parked: kept, with the reason,
# and skipped, so it never blocks the rows behind it.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("topic", String, nullable=False),
    Column("key", LargeBinary, nullable=False),
    Column("value", LargeBinary, nullable=True),  # NULL = tombstone
    _ts("created_at", default=True),
    _ts("parked_at", nullable=True),
    Column("parked_reason", String, nullable=True),
    Index("outbox_pending", "id", postgresql_where=text("parked_at IS NULL")),
)
