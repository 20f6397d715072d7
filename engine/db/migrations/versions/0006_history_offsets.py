"""projected history rows remember the history offset they came from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 15:00:00

A projector frozen while it held a batch (SIGSTOP, a long pause) may write
that batch after its partitions moved to another worker, which has already
projected later records of the same rows. Each row now carries the offset of
the history record it was written from (`history_offset`), and an upsert
replaces a row only from a later offset, so a stale batch changes nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TABLES = (
    "workflow_instance_stage_statuses",
    "workflow_instance_history",
    "workflow_stage_history",
)


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("history_offset", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        op.drop_column(table, "history_offset")
