"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:40:04.564287
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "workflows_live_order",
        "workflows",
        ["created_at", "id"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "triggers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), server_default=sa.text("''"), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=True),
        sa.Column("filter", sa.Text(), nullable=True),
        sa.Column("vars", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "triggers_live_order",
        "triggers",
        ["created_at", "id"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "workflow_instances",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("terminated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "variables",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "workflow_instances_by_workflow",
        "workflow_instances",
        ["workflow_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "workflow_instances_order", "workflow_instances", ["created_at", "id"], unique=False
    )
    op.create_index(
        "workflow_instances_running",
        "workflow_instances",
        ["created_at", "id"],
        unique=False,
        postgresql_where=sa.text("NOT terminated"),
    )
    op.create_table(
        "triggers_occurrences",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("trigger_id", sa.String(), nullable=False),
        sa.Column("workflow_instance_id", sa.String(), nullable=True),
        sa.Column(
            "date", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["triggers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["workflow_instance_id"],
            ["workflow_instances.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "triggers_occurrences_by_trigger",
        "triggers_occurrences",
        ["trigger_id", "date", "id"],
        unique=False,
    )
    op.create_table(
        "workflow_instance_stage_statuses",
        sa.Column("instance_id", sa.String(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("temporal_run_id", sa.String(), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["workflow_instances.id"],
        ),
        sa.PrimaryKeyConstraint("instance_id", "stage", "temporal_run_id"),
    )


def downgrade() -> None:
    op.drop_table("workflow_instance_stage_statuses")
    op.drop_index("triggers_occurrences_by_trigger", table_name="triggers_occurrences")
    op.drop_table("triggers_occurrences")
    op.drop_index(
        "workflow_instances_running",
        table_name="workflow_instances",
        postgresql_where=sa.text("NOT terminated"),
    )
    op.drop_index("workflow_instances_order", table_name="workflow_instances")
    op.drop_index("workflow_instances_by_workflow", table_name="workflow_instances")
    op.drop_table("workflow_instances")
    op.drop_index(
        "triggers_live_order", table_name="triggers", postgresql_where=sa.text("deleted_at IS NULL")
    )
    op.drop_table("triggers")
    op.drop_index(
        "workflows_live_order",
        table_name="workflows",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_table("workflows")
    op.drop_table("outbox")
