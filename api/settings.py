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
    # Upper bound of `POST /workflows/{id}/instances?wait=true`, in seconds. At
    # the bound the call answers 201 with the instance as it stands
    # (`terminated: false`): one slow workflow must not pin a connection and a
    # worker slot forever.
    wait_timeout: float = Field(default=60.0, gt=0, le=3600)

    # Inbound authentication (upstream's --auth-* flags). Off by default.
    auth_enabled: bool = False
    # Issuer URL: tokens must carry it as `iss`; its key set is found through
    # `<issuer>/.well-known/openid-configuration`.
    auth_issuer: str = ""
    auth_check_scopes: bool = False
    # Scopes are `<service>:read` / `<service>:write`.
    auth_service: str = "orchestration"
    # A token whose `kid` is unknown triggers a key-set refresh at most this
    # often, so a stream of forged kids cannot hammer the issuer.
    auth_jwks_min_refresh: float = Field(default=10.0, ge=0)

    # One structured line per request (never headers: no Authorization token).
    access_log: bool = True
    # `GET /metrics` (Prometheus), served without authentication when enabled.
    metrics_enabled: bool = True
