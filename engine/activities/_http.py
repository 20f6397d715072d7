"""HttpStack: the Stack port over a ``Transport`` (aiohttp), against a Formance stack gateway.

One ``call`` is one attempt of one activity: take a slot (and a token) of the
target service, then within ``activity_timeout`` send the request(s) with
credentials and, for the mutating ledger and wallets calls, the
``Idempotency-Key`` header. Bodies are encoded and answers decoded with
``streams.codec``, so amounts beyond 64 bits stay exact both ways, and a body
is encoded once per attempt: a 401 retry sends the same bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from yarl import URL

from engine.activities import _ledger, _payments, _wallets
from engine.activities._auth import TOKEN_PATH, ClientCredentials, Credentials, StaticToken
from engine.activities._errors import ActivityFailure
from engine.activities._exchange import NO_BODY, Activity, Answer, RequestError
from engine.activities._limits import ServiceLimit
from engine.activities._names import SERVICES, TYPED
from engine.activities._settings import ActivitySettings
from engine.activities._transport import AiohttpTransport, Reply, Transport, TransportError
from streams import codec

_ACTIVITIES: dict[str, Activity] = {
    "GetAccount": _ledger.get_account,
    "AddAccountMetadata": _ledger.add_account_metadata,
    "CreateTransaction": _ledger.create_transaction,
    "GetWallet": _wallets.get_wallet,
    "ListWallets": _wallets.list_wallets,
    "CreditWallet": _wallets.credit_wallet,
    "DebitWallet": _wallets.debit_wallet,
    "ConfirmHold": _wallets.confirm_hold,
    "VoidHold": _wallets.void_hold,
    "GetPayment": _payments.get_payment,
    "CreateTransferInitiation": _payments.create_transfer_initiation,
    "StripeTransfer": _payments.stripe_transfer,
}

# A server's errorMessage is quoted in failures (and so in stage histories);
# 1,000 characters keep a ledger validation message whole but bound a
# misbehaving proxy that answers with a page of text.
_MAX_MESSAGE = 1000
# Shared, never mutated: the per-call headers are built from these.
_ACCEPT_JSON = {"Accept": "application/json"}
_SEND_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


class HttpStack:
    """The activities against ``settings.stack_url``.

    ``transport`` is used as given (tests pass a fake) and then stays the
    caller's to close; otherwise HttpStack makes an ``AiohttpTransport`` and
    ``aclose()`` closes it.
    """

    def __init__(self, settings: ActivitySettings, transport: Transport | None = None) -> None:
        base = URL(settings.stack_url)
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError("ORCHESTRATION_STACK_URL must be an absolute http(s) URL")
        if base.user is not None or base.password is not None:
            # Failure messages name paths only, but a URL with a password must
            # not be able to reach a log line through a transport error text.
            raise ValueError("ORCHESTRATION_STACK_URL must not carry credentials")
        self._base = str(base.with_query(None).with_fragment(None)).rstrip("/")
        self._timeout = settings.activity_timeout
        self._owned = transport is None
        # Every slot of the three services plus the token request, so the
        # pool never becomes a hidden fourth limit that eats into the
        # attempts' time.
        slots = 3 * settings.activity_max_concurrency + 1
        self._transport = transport or AiohttpTransport(slots)
        self._credentials = _credentials(settings, self._base)
        self._limits = {
            service: ServiceLimit(settings.activity_max_concurrency, settings.activity_rate_limit)
            for service in ("ledger", "wallets", "payments")
        }

    async def call(
        self, name: str, request: Mapping[str, Any], *, idempotency_key: str | None
    ) -> dict[str, Any] | None:
        activity = _ACTIVITIES.get(name)
        if activity is None:
            raise ActivityFailure(f"unknown activity {name!r}", retryable=False)
        attempt = _Attempt(self, name, idempotency_key)
        async with self._limits[SERVICES[name]].slot():
            try:
                async with asyncio.timeout(self._timeout):
                    return await activity(attempt.send, request)
            except TimeoutError:
                raise ActivityFailure(
                    f"timeout: no answer within {self._timeout:g} s to {attempt.current}"
                ) from None
            except RequestError as exc:
                raise ActivityFailure(f"invalid {name} request: {exc}", retryable=False) from None

    async def aclose(self) -> None:
        if self._owned:
            await self._transport.aclose()

    async def __aenter__(self) -> HttpStack:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _credentials(settings: ActivitySettings, base: str) -> Credentials:
    if settings.stack_client_id:
        if settings.stack_client_secret is None:
            raise ValueError(
                "ORCHESTRATION_STACK_CLIENT_SECRET is required with ORCHESTRATION_STACK_CLIENT_ID"
            )
        return ClientCredentials(
            base + TOKEN_PATH, settings.stack_client_id, settings.stack_client_secret
        )
    if settings.stack_token is not None and settings.stack_token.get_secret_value():
        return StaticToken(settings.stack_token)
    return Credentials()


class _Attempt:
    """The ``send`` of one attempt: knows its activity, its key and its request in flight."""

    def __init__(self, stack: HttpStack, name: str, key: str | None) -> None:
        self._stack = stack
        self._name = name
        self._key = key
        self.current = name

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = NO_BODY,
    ) -> Answer:
        stack = self._stack
        self.current = f"{method} {path}"
        headers = _SEND_JSON if body is not NO_BODY else _ACCEPT_JSON
        content = codec.dumps(body) if body is not NO_BODY else None
        if self._key is not None and method != "GET":
            headers = {**headers, "Idempotency-Key": self._key}
        # Query strings encoded as Go's url.Values.Encode (and httpx before) does: quote_plus.
        url = stack._base + path + (f"?{urlencode(params)}" if params else "")
        auth = await stack._credentials.header(stack._transport)
        reply = await self._exchange(method, path, url, content, headers, auth)
        if reply.status == 401 and stack._credentials.refreshable:
            # Revoked or expired early: one new token, one more try. The same
            # Idempotency-Key makes the repeat of a mutating call safe.
            auth = await stack._credentials.header(stack._transport, stale=auth)
            reply = await self._exchange(method, path, url, content, headers, auth)
        return self._answer(method, path, reply)

    async def _exchange(
        self,
        method: str,
        path: str,
        url: str,
        content: bytes | None,
        headers: Mapping[str, str],
        auth: str | None,
    ) -> Reply:
        if auth is not None:
            headers = {**headers, "Authorization": auth}
        try:
            return await self._stack._transport.exchange(method, url, headers, content)
        except TransportError as exc:
            raise ActivityFailure(f"{method} {path} failed: {exc}"[:_MAX_MESSAGE]) from None

    def _answer(self, method: str, path: str, reply: Reply) -> Answer:
        status = reply.status
        try:
            data = codec.loads(reply.body) if reply.body.strip() else None
        except ValueError:
            data = NO_BODY
        if 200 <= status < 300:
            if data is NO_BODY:
                raise ActivityFailure(
                    f"unexpected answer from {method} {path}: {status}, body not JSON",
                    status=status,
                )
            return Answer(method, path, status, data)
        code, message = _error_body(data)
        if self._name in TYPED and code is not None:
            # Typed failure (7.1): the stage reports the server's message as is.
            raise ActivityFailure((message or code)[:_MAX_MESSAGE], code=code, status=status)
        detail = f": {code}" if code else ""
        detail += f": {message}" if message else ""
        # Untyped: always retryable, upstream retries these forever (8.7).
        raise ActivityFailure(
            f"unexpected status {status} from {method} {path}{detail}"[:_MAX_MESSAGE],
            status=status,
            retryable=True,
        )


def _error_body(data: Any) -> tuple[str | None, str | None]:
    """``(errorCode, errorMessage)`` of a Formance error body, None for what is missing."""
    if not isinstance(data, dict):
        return None, None
    code, message = data.get("errorCode"), data.get("errorMessage")
    return (
        code if isinstance(code, str) and code else None,
        message if isinstance(message, str) and message else None,
    )
