"""Apply the Alembic migrations shipped in `engine/db/migrations`."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from engine.settings import sqlalchemy_url


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "engine.db:migrations")
    # ConfigParser interpolation would choke on a '%' in a password.
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (idempotent, safe to race)."""
    command.upgrade(alembic_config(url), revision)
