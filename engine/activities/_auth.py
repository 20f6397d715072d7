"""Credentials of the outgoing calls: a static bearer or OAuth2 client credentials (BEHAVIOUR 1.1).

Secrets stay inside ``SecretStr`` until the moment a header or the token
request is built; no message, repr or log line carries them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from urllib.parse import urlencode

from pydantic import SecretStr

from engine.activities._errors import ActivityFailure
from engine.activities._transport import Transport, TransportError
from streams import codec

TOKEN_PATH = "/api/auth/oauth/token"  # noqa: S105 (a path, not a secret)
# Upstream asks for exactly these (BEHAVIOUR 1.1).
SCOPES = "openid ledger:read ledger:write wallets:read wallets:write payments:read payments:write"
# Refresh this long before the announced expiry: clock skew between us and
# the auth server plus the request's time in transit. Capped at half the
# lifetime so that a short-lived token is still reused.
_REFRESH_MARGIN = 30.0
# RFC 6749 5.2 error codes are lower-case words; anything else the endpoint
# says stays out of messages (it could echo what we sent).
_OAUTH_ERROR = re.compile(r"[a-z_]{1,64}")
_FORM = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}


class Credentials:
    """What goes into the Authorization header; the base class sends none."""

    refreshable = False

    async def header(self, http: Transport, *, stale: str | None = None) -> str | None:
        return None


class StaticToken(Credentials):
    def __init__(self, token: SecretStr) -> None:
        self._token = token

    async def header(self, http: Transport, *, stale: str | None = None) -> str | None:
        return f"Bearer {self._token.get_secret_value()}"


class ClientCredentials(Credentials):
    """Tokens from the stack's token endpoint, cached until shortly before expiry.

    Concurrent callers share one token request (a lock). ``header(stale=h)``
    after a 401 drops ``h`` and fetches a new token, unless another caller has
    already replaced it.
    """

    refreshable = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = token_url
        self._id = client_id
        self._secret = client_secret
        self._clock = clock
        self._lock = asyncio.Lock()
        self._header: str | None = None
        self._renew_at = 0.0

    async def header(self, http: Transport, *, stale: str | None = None) -> str | None:
        async with self._lock:
            fresh = self._header is not None and self._clock() < self._renew_at
            if fresh and (stale is None or self._header != stale):
                return self._header
            self._header = None
            token, lifetime = await self._fetch(http)
            self._header = f"Bearer {token}"
            margin = min(_REFRESH_MARGIN, lifetime / 2)
            self._renew_at = self._clock() + lifetime - margin
            return self._header

    async def _fetch(self, http: Transport) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._id,
            "client_secret": self._secret.get_secret_value(),
            "scope": SCOPES,
        }
        try:
            resp = await http.exchange("POST", self._url, _FORM, urlencode(form).encode())
        except TransportError as exc:
            # The kind only: a transport's text could quote what was sent.
            raise ActivityFailure(f"token request to {TOKEN_PATH} failed: {exc.kind}") from None
        try:
            body = codec.loads(resp.body) if resp.body else None
        except ValueError:
            body = None
        if resp.status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            known = isinstance(error, str) and _OAUTH_ERROR.fullmatch(error)
            detail = f" ({error})" if known else ""
            raise ActivityFailure(
                f"token request to {TOKEN_PATH} answered {resp.status}{detail}",
                status=resp.status,
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ActivityFailure(f"token request to {TOKEN_PATH}: no access_token in the answer")
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        # Without an announced lifetime keep the token until the stack refuses
        # it (a 401 triggers one refresh).
        lifetime = (
            float(expires_in)
            if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
            else float("inf")
        )
        return token, lifetime
