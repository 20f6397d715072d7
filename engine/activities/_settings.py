"""Settings of the activity clients, read from `ORCHESTRATION_*` environment variables.

Kept here until the lead's `engine/stack.py` owns the stack URL and
credentials for both link() and the activities (BEHAVIOUR 1.1 gives them the
same ones); the field names already match `StackSettings`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ActivitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATION_", extra="ignore")

    # Base URL of the Formance stack gateway; every call goes to <stack_url>/api/...
    stack_url: str = ""
    # Static bearer token, used only when no OAuth2 client is configured.
    stack_token: SecretStr | None = None
    # OAuth2 client credentials (BEHAVIOUR 1.1): when the id is set, tokens come
    # from <stack_url>/api/auth/oauth/token and the static token is ignored.
    stack_client_id: str = ""
    stack_client_secret: SecretStr | None = None
    # Per-attempt limit, upstream's StartToClose of 60 s (BEHAVIOUR 8.7); a
    # timed-out attempt is a retryable failure. 10 minutes at most: beyond that
    # a stuck attempt hides a dead stack from the retry schedule.
    activity_timeout: float = Field(default=60.0, gt=0, le=600)
    # Calls in flight per target service (ledger, wallets, payments), per
    # worker process. Separate pools: a slow ledger fills its own 32 slots and
    # cannot starve wallets or payments calls. See _limits.py for the number.
    activity_max_concurrency: int = Field(default=32, ge=1, le=1024)
    # Calls per second per target service, 0 = unlimited (a token bucket with
    # one second of burst).
    activity_rate_limit: float = Field(default=0.0, ge=0)
