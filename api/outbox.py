"""The transactional outbox relay: Postgres rows -> Kafka, in order, at least once.

Definitions are written with an outbox row in one transaction; this relay
publishes the rows in id order with an idempotent producer and deletes them
only after the broker acknowledged them. One relay at a time per database
(advisory lock), so several API replicas never reorder definitions.

A row the broker refuses for good (larger than it accepts) is parked: kept
with its reason, logged, counted (`orchestration_outbox_parked_total`) and
skipped, so it never holds back the rows behind it. The API refuses such
records at write time (`api.store`); parking is the net below that check.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from prometheus_client import Counter
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine import schema
from streams import KafkaSettings
from streams.lifecycle import Loop
from streams.producers import create_producer

log = structlog.get_logger(__name__)

# pg_try_advisory_xact_lock key: any constant unique within the database; the
# migration lock in engine/db/migrations/env.py uses another one.
_RELAY_LOCK = 7_326_151_001
# Idle poll period: bounds how stale the workers' trigger index can be when
# another replica wrote the definition (the writing replica wakes at once).
_IDLE_POLL_S = 0.2
# Rows per transaction: 500 keeps one transaction's row locks and the
# producer's in-flight batch small (a few hundred KB) while amortising the
# broker round trip; a burst of 10,000 definitions drains in 20 passes.
_BATCH = 500
# After a failed pass (broker or database down), wait 1 s before the next,
# so an outage costs one log line a second, not a hot loop.
_RETRY_PAUSE_S = 1.0
_DRAIN_TIMEOUT_S = 5.0
# Errors that no retry can mend for this row; anything else (broker down,
# leader moving) retries the whole batch.
_PERMANENT = (MessageSizeTooLargeError,)


class OutboxRelay:
    def __init__(
        self, db: AsyncEngine, kafka: KafkaSettings, *, parked: Counter | None = None
    ) -> None:
        self._db = db
        self._parked = parked
        self._kafka = kafka
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.loop = Loop("outbox-relay", self._run)

    def notify(self) -> None:
        """Publish now: called after a transaction that wrote outbox rows commits."""
        self._wake.set()

    async def start(self) -> None:
        self._producer = create_producer(self._kafka, linger_ms=0)
        await self._producer.start()
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()
        if self._producer is not None:
            # Drain what the last requests committed, so a clean shutdown
            # leaves nothing for the next replica; bounded so a dead broker
            # cannot hold the exit (the rows stay and go out later).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.relay_once(), timeout=_DRAIN_TIMEOUT_S)
            await self._producer.stop()

    async def _run(self) -> None:
        while True:
            try:
                published = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox.relay_failed")
                published = 0
                await asyncio.sleep(_RETRY_PAUSE_S)
            if published < _BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=_IDLE_POLL_S)
                self._wake.clear()

    async def relay_once(self) -> int:
        """Publish and delete up to one batch; returns how many rows went out."""
        assert self._producer is not None
        outbox = schema.outbox
        async with self._db.begin() as conn:
            locked = await conn.scalar(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK}
            )
            if not locked:
                return 0
            pending = outbox.c.parked_at.is_(None)
            rows = (
                await conn.execute(
                    select(outbox).where(pending).order_by(outbox.c.id).limit(_BATCH)
                )
            ).all()
            if not rows:
                return 0
            parked: dict[int, str] = {}
            sent = []
            for row in rows:
                try:
                    future = await self._producer.send(row.topic, key=row.key, value=row.value)
                except _PERMANENT as exc:
                    parked[row.id] = f"{type(exc).__name__}: {exc}"
                else:
                    sent.append((row.id, future))
            results = await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
            for (row_id, _), result in zip(sent, results, strict=True):
                if isinstance(result, _PERMANENT):
                    parked[row_id] = f"{type(result).__name__}: {result}"
                elif isinstance(result, BaseException):
                    raise result  # transient: the whole batch again (at least once)
            published = [row.id for row in rows if row.id not in parked]
            if published:
                await conn.execute(delete(outbox).where(outbox.c.id.in_(published)))
            for row in rows:
                if row.id in parked:
                    await self._park(conn, row, parked[row.id])
        log.debug("outbox.published", rows=len(published), parked=len(parked))
        return len(rows)

    async def _park(self, conn: AsyncConnection, row: Row[Any], reason: str) -> None:
        await conn.execute(
            update(schema.outbox)
            .where(schema.outbox.c.id == row.id)
            .values(parked_at=func.now(), parked_reason=reason[:1000])
        )
        if self._parked is not None:
            self._parked.inc()
        log.error(
            "outbox.parked",
            row=row.id,
            topic=row.topic,
            bytes=len(row.key) + len(row.value or b""),
            reason=reason[:300],
        )
