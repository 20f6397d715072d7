"""The Postgres projection: schema, migrations and the async engine factory."""

from engine.db.migrate import migrate
from engine.db.schema import metadata

__all__ = ["metadata", "migrate"]
