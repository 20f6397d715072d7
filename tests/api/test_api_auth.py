"""Bearer JWT authentication against a real JWKS served on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

pytestmark = pytest.mark.integration


class Issuer:
    """An OpenID issuer: discovery document and key set, keys rotatable."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.jwks_requests = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys"}
                elif self.path == "/keys":
                    issuer.jwks_requests += 1
                    body = {"keys": [issuer.public_jwk(k) for k in issuer.keys]}
                else:
                    self.send_error(404)
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add_rsa(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def add_ec(self, kid: str) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def public_jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else None
        if algorithm is not None:
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            jwk["alg"] = "RS256"
        else:
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        return {**jwk, "kid": kid, "use": "sig"}

    def token(
        self,
        kid: str = "k1",
        *,
        scope: str = "openid orchestration:write",
        issuer: str | None = None,
        expires_in: int = 300,
        signer: Any = None,
        alg: str | None = None,
    ) -> str:
        key = signer or self.keys[kid]
        alg = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        claims = {
            "iss": issuer or self.url,
            "sub": "client",
            "scope": scope,
            "exp": int(time.time()) + expires_in,
            "iat": int(time.time()),
        }
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def __enter__(self) -> Issuer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as server:
        server.add_rsa("k1")
        server.add_ec("k2")
        yield server


@pytest.fixture(scope="module")
async def secured(make_client: Any, issuer: Issuer) -> Any:
    async with make_client(
        relay=False,
        auth_enabled=True,
        auth_issuer=issuer.url,
        auth_check_scopes=True,
        auth_jwks_min_refresh=0,
    ) as client:
        yield client


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_valid_token(secured: httpx.AsyncClient, issuer: Issuer, scheme: str) -> None:
    response = await secured.get("/v2/workflows", headers=bearer(issuer.token(), scheme))
    assert response.status_code == 200
    created = await secured.post(
        "/api/orchestration/workflows", json={}, headers=bearer(issuer.token("k2"), scheme)
    )
    assert created.status_code == 201


async def test_open_endpoints(secured: httpx.AsyncClient) -> None:
    for path in ("/_healthcheck", "/_info", "/v2/_info", "/api/orchestration/_info", "/metrics"):
        assert (await secured.get(path)).status_code == 200, path


def _rejections(issuer: Issuer) -> dict[str, dict[str, str]]:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "missing": {},
        "not bearer": {"Authorization": f"Basic {issuer.token()}"},
        "garbage": bearer("not.a.jwt"),
        "expired": bearer(issuer.token(expires_in=-3600)),
        "wrong issuer": bearer(issuer.token(issuer="https://evil.example")),
        "wrong signature": bearer(issuer.token(signer=stranger)),
        "unknown kid": bearer(issuer.token("k9", signer=stranger)),
        "hmac with the public key": bearer(
            jwt.encode(
                {"iss": issuer.url, "exp": int(time.time()) + 60},
                "a-shared-secret-long-enough-for-hs256-0123456789",
                algorithm="HS256",
                headers={"kid": "k1"},
            )
        ),
        "alg none": bearer(
            jwt.encode(
                {"iss": issuer.url, "exp": int(time.time()) + 60},
                None,
                algorithm="none",
                headers={"kid": "k1"},
            )
        ),
        "no scope": bearer(issuer.token(scope="openid ledger:write")),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "not bearer",
        "garbage",
        "expired",
        "wrong issuer",
        "wrong signature",
        "unknown kid",
        "hmac with the public key",
        "alg none",
        "no scope",
    ],
)
async def test_rejected_tokens_get_an_empty_401(
    secured: httpx.AsyncClient, issuer: Issuer, case: str
) -> None:
    headers = _rejections(issuer)[case]
    for method, path in (("GET", "/v2/workflows"), ("POST", "/workflows"), ("GET", "/instances")):
        response = await secured.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (case, method, path)
        assert response.content == b""


async def test_read_scope_allows_reads_only(secured: httpx.AsyncClient, issuer: Issuer) -> None:
    token = issuer.token(scope="orchestration:read")
    assert (await secured.get("/v2/triggers", headers=bearer(token))).status_code == 200
    write = await secured.post("/v2/workflows", json={}, headers=bearer(token))
    assert write.status_code == 401
    assert write.content == b""


async def test_key_rotation_refreshes_the_key_set(
    secured: httpx.AsyncClient, issuer: Issuer
) -> None:
    assert (await secured.get("/workflows", headers=bearer(issuer.token()))).status_code == 200
    before = issuer.jwks_requests
    # Cached: known kids do not hit the issuer again.
    assert (await secured.get("/workflows", headers=bearer(issuer.token()))).status_code == 200
    assert issuer.jwks_requests == before
    issuer.add_rsa("k3")
    response = await secured.get("/workflows", headers=bearer(issuer.token("k3")))
    assert response.status_code == 200
    assert issuer.jwks_requests == before + 1


async def test_scopes_unchecked_when_disabled(make_client: Any, issuer: Issuer) -> None:
    async with make_client(relay=False, auth_enabled=True, auth_issuer=issuer.url) as client:
        token = issuer.token(scope="openid")
        assert (await client.post("/workflows", json={}, headers=bearer(token))).status_code == 201
        assert (await client.get("/workflows")).status_code == 401


async def test_unreachable_issuer_is_401_not_500(make_client: Any) -> None:
    async with make_client(
        relay=False, auth_enabled=True, auth_issuer="http://127.0.0.1:9"
    ) as client:
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jwt.encode(
            {"iss": "http://127.0.0.1:9", "exp": int(time.time()) + 60}, stranger, algorithm="RS256"
        )
        response = await client.get("/workflows", headers=bearer(token))
        assert response.status_code == 401


def test_auth_needs_an_issuer() -> None:
    from api import ApiSettings, create_app

    with pytest.raises(ValueError, match="AUTH_ISSUER"):
        create_app(ApiSettings(auth_enabled=True))
