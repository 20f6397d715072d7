"""The Postgres projection: schema, migrations and the async engine factory."""

from engine.db import schema
from engine.db.connection import create_db_engine
from engine.db.migrate import migrate

__all__ = ["create_db_engine", "migrate", "schema"]
