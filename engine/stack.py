"""The Formance stack this service calls: its URL, credentials and HTTP clients, in one place.

`link()` in trigger expressions and the workflow activities use the same
stack URL and the same credentials (BEHAVIOUR.md 1.1): a static bearer token
(`ORCHESTRATION_STACK_TOKEN`) or OAuth2 client credentials
(`ORCHESTRATION_STACK_CLIENT_ID` / `_SECRET`). Secrets are `SecretStr`:
never logged, never in a repr.

`link()` only reads URLs under the stack URL (upstream follows any URI with
the stack's credentials: an SSRF and token-leak hole, BEHAVIOUR.md 9.5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from triggers import expr


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATION_", extra="ignore")

    # Base URL of the Formance stack gateway (calls go to <url>/api/...).
    # Empty: link() fails with a clear error and activities cannot run.
    stack_url: str = ""
    # Stack name: the prefix of idempotency keys, so two stacks sharing a
    # ledger never collide (upstream's --stack).
    stack: str = "default"
    # Static bearer token for stack calls (never logged).
    stack_token: SecretStr | None = None
    # OAuth2 client credentials; when the id is set they win over the token.
    stack_client_id: str = ""
    stack_client_secret: SecretStr | None = None
    # One slow linked resource must not stall matching for long: 2 s.
    link_timeout: float = Field(default=2.0, gt=0, le=30)

    def static_token(self) -> str | None:
        return self.stack_token.get_secret_value() if self.stack_token else None


class LinkError(Exception):
    """A `link()` read failed; the message is what the expression reports."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def link_fetcher(
    settings: StackSettings,
    *,
    token: str | Callable[[], str] | None = None,
    client: httpx.Client | None = None,
) -> expr.Fetch | None:
    """The `fetch` handed to link(); None (link() fails cleanly) without a stack URL.

    `token` (or a callable returning a fresh one, for OAuth2 expiry)
    defaults to the static token; it is only ever sent to the stack's origin.
    """
    if not settings.stack_url:
        return None
    return http_fetcher(
        settings.stack_url,
        token=token if token is not None else settings.static_token(),
        timeout=settings.link_timeout,
        client=client,
    )


def http_fetcher(
    base_url: str,
    token: str | Callable[[], str] | None = None,
    timeout: float = 2.0,
    client: httpx.Client | None = None,
) -> expr.Fetch:
    """A blocking `fetch` that GETs URIs under `base_url` and returns their `data`."""
    base = httpx.URL(base_url)
    if base.scheme not in ("http", "https") or not base.host:
        raise ValueError(f"base_url must be an absolute http(s) URL: {base_url!r}")
    base_path = base.path if base.path.endswith("/") else base.path + "/"
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def origin(url: httpx.URL) -> tuple[str, str, int]:
        return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)

    def allowed(url: httpx.URL) -> bool:
        if origin(url) != origin(base):
            return False
        path = url.path if url.path.endswith("/") else url.path + "/"
        return path.startswith(base_path) and "/../" not in path

    def fetch(uri: str) -> Any:
        try:
            url = httpx.URL(uri)
        except httpx.InvalidURL as exc:
            raise LinkError(f"reading resource: {uri}: {exc}") from None
        if not allowed(url):
            raise LinkError(f"reading resource: {uri}: target not allowed (only {base} is)")
        headers = {"Accept": "application/json"}
        bearer = token() if callable(token) else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        try:
            resp = http.get(url, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise LinkError(f"reading resource: {uri}: {exc}") from None
        if resp.status_code >= 400:
            raise LinkError(f"unexpected status code when reading resource: {resp.status_code}")
        try:
            body = expr.decode_event(resp.content)
        except ValueError as exc:
            raise LinkError(f"decoding resource: {uri}: {exc}") from None
        return body.get("data") if isinstance(body, dict) else None

    return fetch
