"""OAuth2 client credentials (BEHAVIOUR 1.1) against a local token endpoint behind MockTransport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.activities import ActivityFailure
from engine.activities._transport import Reply
from tests.engine.activities.fake_stack import FakeStack, Seen, reply, settings

pytestmark = pytest.mark.unit

SCOPES = "openid ledger:read ledger:write wallets:read wallets:write payments:read payments:write"
OAUTH = {"stack_client_id": "orchestration", "stack_client_secret": "cl13nt-s3cr3t"}


class Auth:
    """A token endpoint plus an API that accepts only the latest token."""

    def __init__(self, *, expires_in: Any = 3600, reject: set[str] | None = None) -> None:
        self.issued = 0
        self.expires_in = expires_in
        self.reject = reject or set()
        self.fake = FakeStack(self.handle)

    def handle(self, seen: Seen) -> Reply:
        if seen.path == "/api/auth/oauth/token":
            self.issued += 1
            body: dict[str, Any] = {"access_token": f"tok-{self.issued}", "token_type": "Bearer"}
            if self.expires_in is not None:
                body["expires_in"] = self.expires_in
            return reply(200, body)
        if seen.headers.get("authorization") in {f"Bearer {t}" for t in self.reject}:
            return reply(401)
        return reply(200, {"data": {"id": "w"}})


async def test_the_token_request() -> None:
    auth = Auth()
    await auth.fake.stack(**OAUTH).call("GetWallet", {"id": "w"}, idempotency_key=None)
    token, call = auth.fake.seen
    assert (token.method, token.path) == ("POST", "/api/auth/oauth/token")
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token.form == {
        "grant_type": "client_credentials",
        "client_id": "orchestration",
        "client_secret": "cl13nt-s3cr3t",
        "scope": SCOPES,
    }
    assert call.headers["authorization"] == "Bearer tok-1"


async def test_one_token_serves_many_concurrent_calls() -> None:
    auth = Auth()
    stack = auth.fake.stack(**OAUTH)
    await asyncio.gather(
        *(stack.call("GetWallet", {"id": "w"}, idempotency_key=None) for _ in range(20))
    )
    for _ in range(5):
        await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert auth.issued == 1
    calls = auth.fake.api_calls()
    assert len(calls) == 25
    assert {c.headers["authorization"] for c in calls} == {"Bearer tok-1"}


async def test_the_token_is_refreshed_before_it_expires() -> None:
    # expires_in 0.4 s: reused until 0.2 s (half the lifetime, the margin's cap).
    auth = Auth(expires_in=0.4)
    stack = auth.fake.stack(**OAUTH)
    await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
    await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert auth.issued == 1
    await asyncio.sleep(0.3)
    await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert auth.issued == 2
    assert auth.fake.api_calls()[-1].headers["authorization"] == "Bearer tok-2"


async def test_a_401_refetches_the_token_and_retries_once_with_the_same_key() -> None:
    auth = Auth(reject={"tok-1"})
    stack = auth.fake.stack(**OAUTH)
    out = await stack.call(
        "CreateTransaction",
        {
            "Ledger": "m",
            "Data": {"postings": [{"amount": 1, "asset": "X", "source": "a", "destination": "b"}]},
        },
        idempotency_key="k-401",
    )
    assert out is not None
    assert auth.issued == 2
    first, second = auth.fake.api_calls()
    assert first.headers["authorization"] == "Bearer tok-1"
    assert second.headers["authorization"] == "Bearer tok-2"
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "k-401"
    assert first.raw == second.raw


async def test_a_second_401_is_a_failure_after_exactly_one_retry() -> None:
    auth = Auth(reject={"tok-1", "tok-2", "tok-3"})
    with pytest.raises(ActivityFailure) as caught:
        await auth.fake.stack(**OAUTH).call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert (caught.value.status, caught.value.retryable, caught.value.code) == (401, True, None)
    assert auth.issued == 2
    assert len(auth.fake.api_calls()) == 2


async def test_a_401_with_a_static_token_is_not_retried() -> None:
    fake = FakeStack(lambda seen: reply(401))
    with pytest.raises(ActivityFailure) as caught:
        await fake.stack(stack_token="static").call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert caught.value.status == 401
    assert len(fake.seen) == 1


async def test_the_client_id_wins_over_a_static_token() -> None:
    auth = Auth()
    await auth.fake.stack(stack_token="static", **OAUTH).call(
        "GetWallet", {"id": "w"}, idempotency_key=None
    )
    assert auth.fake.api_calls()[0].headers["authorization"] == "Bearer tok-1"


async def test_a_token_without_lifetime_is_kept_until_refused() -> None:
    auth = Auth(expires_in=None)
    stack = auth.fake.stack(**OAUTH)
    for _ in range(3):
        await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert auth.issued == 1


async def test_a_refused_token_request_fails_retryable_without_the_secret() -> None:
    def handler(seen: Seen) -> Reply:
        return reply(401, {"error": "invalid_client", "error_description": "cl13nt-s3cr3t wrong"})

    fake = FakeStack(handler)
    with pytest.raises(ActivityFailure) as caught:
        await fake.stack(**OAUTH).call("GetWallet", {"id": "w"}, idempotency_key=None)
    failure = caught.value
    assert failure.message == "token request to /api/auth/oauth/token answered 401 (invalid_client)"
    assert (failure.retryable, failure.code, failure.status) == (True, None, 401)
    assert len(fake.api_calls()) == 0


async def test_a_token_answer_without_a_token_fails() -> None:
    fake = FakeStack(lambda seen: reply(200, {"token_type": "Bearer"}))
    with pytest.raises(ActivityFailure, match="no access_token"):
        await fake.stack(**OAUTH).call("GetWallet", {"id": "w"}, idempotency_key=None)


def test_secrets_stay_out_of_the_settings_repr() -> None:
    shown = repr(settings(stack_token="t0k3n-value", **OAUTH))
    assert "t0k3n-value" not in shown
    assert "cl13nt-s3cr3t" not in shown


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.activities import ActivitySettings

    monkeypatch.setenv("ORCHESTRATION_STACK_URL", "http://gw.test")
    monkeypatch.setenv("ORCHESTRATION_STACK_CLIENT_ID", "id")
    monkeypatch.setenv("ORCHESTRATION_STACK_CLIENT_SECRET", "sec")
    monkeypatch.setenv("ORCHESTRATION_ACTIVITY_RATE_LIMIT", "12.5")
    monkeypatch.delenv("ORCHESTRATION_ACTIVITY_TIMEOUT", raising=False)
    monkeypatch.delenv("ORCHESTRATION_ACTIVITY_MAX_CONCURRENCY", raising=False)
    loaded = ActivitySettings()
    assert loaded.stack_url == "http://gw.test"
    assert loaded.stack_client_id == "id"
    assert loaded.stack_client_secret is not None
    assert loaded.stack_client_secret.get_secret_value() == "sec"
    assert (loaded.activity_timeout, loaded.activity_max_concurrency) == (60.0, 16)
    assert loaded.activity_rate_limit == 12.5
