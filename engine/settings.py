"""Database settings, read from `ORCHESTRATION_*` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from triggers import expr
from triggers.expr import Fetch


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


class StackSettings(BaseSettings):
    """Where `link()` in trigger expressions may read from."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATION_", extra="ignore")

    # Base URL of the Formance stack; link() only follows URIs under it
    # (upstream follows any URI with the stack's credentials: an SSRF hole).
    # Empty: link() fails with a clear error.
    stack_url: str = ""
    # Bearer token sent with those reads (never logged).
    stack_token: SecretStr | None = None
    # One slow resource must not stall matching for long.
    link_timeout: float = Field(default=2.0, gt=0, le=30)

    def fetcher(self) -> Fetch | None:
        """The `fetch` handed to link(); None (link() fails) without a stack URL."""
        if not self.stack_url:
            return None
        token = self.stack_token.get_secret_value() if self.stack_token else None
        return expr.http_fetcher(self.stack_url, token=token, timeout=self.link_timeout)
