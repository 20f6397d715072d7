"""running-by-workflow index, instance and stage histories

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False, default: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.text("now()") if default else None,
    )


def upgrade() -> None:
    op.create_index(
        "workflow_instances_running_by_workflow",
        "workflow_instances",
        ["workflow_id", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text("NOT terminated"),
    )
    op.create_table(
        "workflow_instance_history",
        sa.Column("instance_id", sa.String(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("input", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("terminated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _ts("started_at", default=True),
        _ts("terminated_at", nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["workflow_instances.id"]),
        sa.PrimaryKeyConstraint("instance_id", "stage"),
    )
    op.create_table(
        "workflow_stage_history",
        sa.Column("instance_id", sa.String(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("input", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("output", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("terminated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _ts("started_at", default=True),
        _ts("terminated_at", nullable=True),
        sa.Column("last_failure", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _ts("next_execution", nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["workflow_instances.id"]),
        sa.PrimaryKeyConstraint("instance_id", "stage", "position"),
    )


def downgrade() -> None:
    op.drop_table("workflow_stage_history")
    op.drop_table("workflow_instance_history")
    op.drop_index(
        "workflow_instances_running_by_workflow",
        table_name="workflow_instances",
        postgresql_where=sa.text("NOT terminated"),
    )
