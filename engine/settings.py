"""Database settings, read from `ORCHESTRATION_*` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATION_", extra="ignore")

    # A libpq URL (postgresql://user:pass@host:port/db). Secret: it may carry a
    # password, so it is never logged or shown in reprs.
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/orchestration")
    database_pool_size: int = Field(default=10, ge=1, le=200)

    def sqlalchemy_url(self) -> str:
        return sqlalchemy_url(self.database_url.get_secret_value())


def sqlalchemy_url(url: str) -> str:
    """Pin SQLAlchemy to psycopg 3 whatever scheme the user wrote."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("ORCHESTRATION_DATABASE_URL must be a postgresql:// URL")
