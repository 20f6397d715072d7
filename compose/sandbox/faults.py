"""Fault injection of the sandbox: latency, 5xx answers, replies held or dropped after applying.

An ASGI middleware in front of the stack routes (``/api/...``); the sandbox's
own endpoints (``/_info``, ``/_healthcheck``, ``/_sandbox/log``) are never
faulted, so a test can always read what happened.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams import codec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class SandboxSettings(BaseSettings):
    """``ORCHESTRATION_SANDBOX_*`` variables; the CLI flags override them."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATION_SANDBOX_", extra="ignore")
    # Seconds added before every stack call is handled.
    latency: float = Field(default=0.0, ge=0, le=600)
    # Seconds a write's reply is held after the write was applied: the window
    # in which a caller can die with the write done and its answer unseen.
    reply_latency: float = Field(default=0.0, ge=0, le=600)
    # Share of stack calls answered 503 without being applied.
    error_rate: float = Field(default=0.0, ge=0, le=1)
    # Share of stack writes applied whose reply is then cut off mid-answer.
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    # Seed of the fault draws, so a faulty run can be replayed.
    seed: int | None = None
    # Kafka bootstrap servers; set, the sandbox publishes its events (off when empty).
    kafka_bootstrap: str = ""
    # Topics of the ledger's and payments' events; empty: the worker's inbound
    # topic for that module (ORCHESTRATION_TOPICS, e.g. `acme.ledger`).
    ledger_topic: str = ""
    payments_topic: str = ""


class DroppedReply(Exception):
    """Raised after the response head went out: the server closes the connection."""


class Faults:
    """Wraps ``app``; ``journal(scope, status, fault)`` is told of every stack
    call once answered: the status the app gave (503 for an injected error)
    and the fault that hit it, if any."""

    def __init__(
        self,
        app: App,
        settings: SandboxSettings,
        journal: Callable[[Scope, int, str | None], None],
    ) -> None:
        self._app = app
        self._settings = settings
        self._random = random.Random(settings.seed)  # noqa: S311 (fault draws, not secrets)
        self._journal = journal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self._app(scope, receive, send)
            return
        s = self._settings
        if s.latency:
            await asyncio.sleep(s.latency)
        if s.error_rate and self._random.random() < s.error_rate:
            self._journal(scope, 503, "error")
            body = codec.dumps({"errorCode": "INTERNAL", "errorMessage": "sandbox: injected error"})
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        # Dropping a read's reply tests nothing an error does not; only writes
        # are dropped, so a test can still read what was applied.
        writes = scope["method"] not in ("GET", "HEAD")
        if writes and s.drop_rate and self._random.random() < s.drop_rate:
            await self._apply_then_drop(scope, receive, send)
            return
        status = 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            forward = self._held(noted, s.reply_latency) if writes and s.reply_latency else noted
            await self._app(scope, receive, forward)
        finally:
            self._journal(scope, status, None)

    @staticmethod
    def _held(send: Send, seconds: float) -> Send:
        async def held(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(seconds)  # applied; the answer waits
            await send(message)

        return held

    async def _apply_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        head: Message | None = None

        async def swallow(message: Message) -> None:
            nonlocal head
            if message["type"] == "http.response.start":
                head = message

        await self._app(scope, receive, swallow)
        self._journal(scope, head["status"] if head is not None else 500, "drop")
        if head is not None:
            # Announce a body, then fail: the client sees the connection close
            # before the answer is complete, after the call took effect. Always
            # 200: a 204 head carries no body and would be a complete reply.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
        raise DroppedReply("sandbox: reply dropped after applying")
