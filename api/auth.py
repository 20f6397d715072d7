"""Bearer-token authentication, as upstream's `--auth-*` flags configure it.

Tokens are JWTs signed by the stack's auth service (the issuer). Its key set
is found through OpenID discovery (`<issuer>/.well-known/openid-configuration`
-> `jwks_uri`), cached, and refreshed when a token names an unknown key id
(key rotation), at most once per `min_refresh` seconds. A token must carry
the issuer as `iss` and an `exp` in the future; `alg` must be an asymmetric
algorithm (`none` and HMAC are refused: a public key is not a shared secret).

With scope checks on, `GET`/`HEAD`/`OPTIONS`/`TRACE` need `<service>:read`
or `<service>:write`, any other method `<service>:write`. Every failure is
the same 401 with an empty body; the reason is logged, the token never is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import httpx
import jwt
import structlog
from fastapi import Request

from api.errors import Unauthorized
from api.settings import ApiSettings

log = structlog.get_logger(__name__)

_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# A verification key and the algorithm its JWK declares (if any).
_Key = tuple[jwt.PyJWK, str | None]
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Bounds how long a request waits on a slow issuer before failing with 401.
_FETCH_TIMEOUT_S = 5.0


class KeySet:
    """The issuer's signing keys by key id, fetched lazily and refreshed on demand."""

    def __init__(
        self, issuer: str, *, min_refresh: float = 10.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._min_refresh = min_refresh
        self._client = client or httpx.AsyncClient(timeout=_FETCH_TIMEOUT_S)
        self._keys: dict[str | None, _Key] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def key(self, kid: str | None) -> _Key | None:
        found = self._lookup(kid)
        if found is not None:
            return found
        async with self._lock:
            # Another request may have refreshed while this one waited.
            found = self._lookup(kid)
            fresh = self._fetched_at is not None and (
                time.monotonic() - self._fetched_at < self._min_refresh
            )
            if found is None and not fresh:
                await self._refresh()
                found = self._lookup(kid)
        return found

    def _lookup(self, kid: str | None) -> _Key | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            discovery = await self._get_json(f"{self._issuer}/.well-known/openid-configuration")
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise ValueError("discovery document has no jwks_uri")
            document = await self._get_json(jwks_uri)
            keys: dict[str | None, _Key] = {}
            for entry in document.get("keys") or []:
                # Symmetric ("oct") keys are never published by an issuer.
                if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                    continue
                if entry.get("kty") == "oct":
                    continue
                try:
                    declared = entry.get("alg")
                    keys[entry.get("kid")] = (
                        jwt.PyJWK(entry),
                        declared if isinstance(declared, str) else None,
                    )
                except jwt.PyJWTError:
                    continue  # a key type this library cannot use: skip it
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("auth.jwks_unavailable", issuer=self._issuer, error=str(exc))
            return
        self._keys = keys
        log.info("auth.jwks_refreshed", issuer=self._issuer, keys=len(keys))

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self._client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError(f"{url} did not answer a JSON object")
        return body


class Authenticator:
    def __init__(self, settings: ApiSettings, keys: KeySet | None = None) -> None:
        if not settings.auth_issuer:
            raise ValueError("ORCHESTRATION_AUTH_ISSUER is required when auth is enabled")
        self.issuer = settings.auth_issuer
        self.check_scopes = settings.auth_check_scopes
        self.service = settings.auth_service
        self.keys = keys or KeySet(settings.auth_issuer, min_refresh=settings.auth_jwks_min_refresh)

    async def aclose(self) -> None:
        await self.keys.aclose()

    async def verify(self, authorization: str | None, method: str) -> dict[str, Any]:
        """The token's claims; raises Unauthorized on any failure."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme not in ("Bearer", "bearer") or not token.strip():
            raise Unauthorized
        claims = await self._claims(token.strip())
        if self.check_scopes and not self._allowed(_scopes(claims), method):
            log.info("auth.scope_missing", method=method, sub=claims.get("sub"))
            raise Unauthorized
        return claims

    async def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if alg not in _ALGORITHMS:
                raise jwt.InvalidAlgorithmError(f"algorithm {alg!r} not accepted")
            kid = header.get("kid")
            key = await self.keys.key(kid if isinstance(kid, str) else None)
            if key is None:
                raise jwt.InvalidKeyError("unknown key id")
            jwk, declared = key
            if declared is not None and declared != alg:
                raise jwt.InvalidAlgorithmError("algorithm does not match the key")
            claims: dict[str, Any] = jwt.decode(
                token,
                key=jwk.key,
                algorithms=[alg],
                issuer=self.issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
                leeway=5,  # clock skew between the issuer and this host
            )
        except jwt.PyJWTError as exc:
            log.info("auth.rejected", reason=type(exc).__name__)
            raise Unauthorized from None
        return claims

    def _allowed(self, scopes: set[str], method: str) -> bool:
        write = f"{self.service}:write"
        if method.upper() in _READ_METHODS:
            return write in scopes or f"{self.service}:read" in scopes
        return write in scopes


def _scopes(claims: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for name in ("scope", "scp", "scopes"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, Iterable):
            found.update(v for v in value if isinstance(v, str))
    return found


async def authenticate(request: Request) -> None:
    """Router dependency of every v1/v2 route (not /_healthcheck, /_info, /metrics)."""
    authenticator: Authenticator | None = request.app.state.services.auth
    if authenticator is not None:
        await authenticator.verify(request.headers.get("authorization"), request.method)
