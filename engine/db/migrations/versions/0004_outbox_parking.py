"""outbox rows the broker refuses for good are parked, not retried forever

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:20:00

One row larger than the broker accepts used to be retried forever, and every
definition and command behind it stayed in Postgres. The relay now parks such
a row (`parked_at`, `parked_reason`) and reads only pending rows, through a
partial index on the id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("parked_reason", sa.String(), nullable=True))
    op.create_index(
        "outbox_pending", "outbox", ["id"], postgresql_where=sa.text("parked_at IS NULL")
    )


def downgrade() -> None:
    op.drop_index("outbox_pending", table_name="outbox")
    op.drop_column("outbox", "parked_reason")
    op.drop_column("outbox", "parked_at")
