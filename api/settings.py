"""API settings, read from `ORCHESTRATION_*` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATION_", extra="ignore")

    api_host: str = "0.0.0.0"  # noqa: S104 - a service; `orchestration dev` binds 127.0.0.1
    api_port: int = Field(default=8080, ge=1, le=65535)
    version: str = "develop"
    # Run database migrations when the API starts (upstream's `serve` does).
    migrate_on_start: bool = True
    # Requests above this size are refused with 413 before being read whole.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
