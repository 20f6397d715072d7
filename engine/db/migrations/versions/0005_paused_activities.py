"""stage history rows keep the hold of a paused activity (BEHAVIOUR 14.4)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:30:00

Under pause mode an activity out of attempts is held until resumed; the API
shows it in `pendingActivities` and checks a resume against it, so its row
carries when it was held (`paused_at`, NULL when not held), why
(`pause_reason`), its budget and the type of its last failure.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLE = "workflow_stage_history"


def upgrade() -> None:
    op.add_column(_TABLE, sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(_TABLE, sa.Column("pause_reason", sa.Text(), nullable=True))
    op.add_column(_TABLE, sa.Column("max_attempts", sa.Integer(), nullable=True))
    op.add_column(_TABLE, sa.Column("last_failure_type", sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ("last_failure_type", "max_attempts", "pause_reason", "paused_at"):
        op.drop_column(_TABLE, column)
