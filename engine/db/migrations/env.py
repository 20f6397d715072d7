"""Alembic environment: runs online against the URL handed in by `migrate()`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from engine.db.schema import metadata

# Any constant works; it only has to be the same for every process migrating
# this database, so two replicas starting together migrate one after the other.
_MIGRATION_LOCK = 7_326_151_000


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
        try:
            context.configure(connection=connection, target_metadata=metadata)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
            connection.commit()
    engine.dispose()


run_migrations_online()
