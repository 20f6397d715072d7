"""Sends the sandbox's events to Kafka, off the request path.

A state change queues its event (``publish`` never waits and never raises);
one task sends the queue in order with the shared producer of
``streams.producers``. A failure is logged and counted (``failed``), never
reported to the HTTP caller: the change it describes is already made, as
when a real service's broker is down. Records are written as the Formance
services write them through Watermill (BEHAVIOUR 11.2): the JSON envelope as
value, no key, a fresh ``_watermill_message_uuid`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from compose.sandbox.events import Event, Service
from streams.producers import create_producer
from streams.settings import KafkaSettings

log = logging.getLogger("sandbox.events")

# Events waiting for the broker beyond this are dropped (and counted): a
# sandbox left running without its broker must not grow without bound.
QUEUE_SIZE = 100_000
RETRY_SECONDS = 1.0


def module_topic(topics: Sequence[str], module: str) -> str:
    """The inbound topic a stack gives ``module``: ``<stack>.<module>``,
    ``<stack>-<module>`` or the bare name (13.1); the bare name if none is."""
    for topic in topics:
        if topic == module or topic.endswith((f".{module}", f"-{module}")):
            return topic
    return module


@dataclass
class Counts:
    published: int = 0
    failed: int = 0


class Publisher:
    def __init__(self, bootstrap: str, topics: dict[Service, str]) -> None:
        self._settings = KafkaSettings(kafka_bootstrap_servers=bootstrap)
        self.topics = topics
        self.counts = Counts()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._broken = False
        self._unsettled = 0

    @property
    def pending(self) -> int:
        """Events queued or sent but not yet acknowledged by the broker."""
        return self._unsettled

    def publish(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
            self._unsettled += 1
        except asyncio.QueueFull:
            self.counts.failed += 1
            log.warning(
                "event %s dropped: %d events already wait for Kafka", event.type, QUEUE_SIZE
            )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sandbox-events")

    async def stop(self, grace: float = 5.0) -> None:
        """Give queued events ``grace`` seconds to go out, then stop."""
        if self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), grace)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._send(event)
            finally:
                self._queue.task_done()

    async def _send(self, event: Event) -> None:
        producer = await self._connected()
        try:
            sent = await producer.send(
                self.topics[event.service],
                event.encode(),
                headers=[("_watermill_message_uuid", str(uuid.uuid4()).encode())],
            )
        except Exception as exc:  # any send failure is counted, not raised
            self._broken = True
            self._failed(event, exc)
            return
        sent.add_done_callback(lambda done: self._settled(event, done))

    async def _connected(self) -> AIOKafkaProducer:
        """The producer, started (again after a fatal send error), retrying until it is."""
        if self._producer is not None and not self._broken:
            return self._producer
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None
        while True:
            producer = create_producer(self._settings)
            try:
                await producer.start()
            except Exception as exc:  # the broker may come up later
                log.warning("kafka not reachable (%s); retrying in %.0f s", exc, RETRY_SECONDS)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self._producer, self._broken = producer, False
            return producer

    def _settled(self, event: Event, done: asyncio.Future[Any]) -> None:
        if done.cancelled():
            self._failed(event, asyncio.CancelledError())
        elif done.exception() is not None:
            self._broken = True
            self._failed(event, done.exception())
        else:
            self._unsettled -= 1
            self.counts.published += 1

    def _failed(self, event: Event, exc: BaseException | None) -> None:
        self._unsettled -= 1
        self.counts.failed += 1
        log.error("event %s not published: %r", event.type, exc)
