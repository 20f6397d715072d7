"""The worker process: the definitions reader plus two batch loops.

- `match` consumes the inbound topics (consumer group), matches each event
  against the in-memory trigger index and produces occurrence records (and
  dead letters), plus one `instance.start` command per occurrence that
  created an instance (with the workflow's configuration from the
  definitions topic), which the instance runner (engine.worker.instances)
  consumes;
- `project` consumes the occurrences and history topics and upserts them
  into Postgres.

Both read whole batches from aiokafka (`streams.BatchConsumer`): a batch's
offsets are committed only after everything it produced is acknowledged by
the broker (match) or committed in the database (project).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog
from prometheus_client import Histogram
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from engine import history
from engine.activities import ActivitySettings, HttpStack, Stack
from engine.matching import MatchResult, match_records
from engine.projection import ProjectionWriter
from engine.replay import kafka_records
from engine.stack import StackSettings, link_fetcher
from engine.worker.definitions_reader import DefinitionsReader
from engine.worker.instances import InstanceRunner, NoStack, count_published
from engine.worker.metrics import (
    DEAD_LETTERS,
    EVENTS,
    FILTER_ERRORS,
    MATCH_LATENCY,
    OCCURRENCES,
    PROJECT_BATCH_SIZE,
    PROJECTED,
    PROJECTION_LATENCY,
    UNPROJECTED,
    VARS_ERRORS,
    count_trigger_errors,
)
from engine.worker.tracing import MatchTracer
from streams import BatchConsumer, KafkaSettings, Record, Topics, ensure_topics
from streams.lifecycle import Loop, LoopDied, first_death
from streams.producers import OutRecord, ProducerHolder, create_producer
from streams.settings import RECORD_BATCH_OVERHEAD
from triggers import TriggerIndex
from triggers.expr import Fetch

log = structlog.get_logger(__name__)

# Batches bound the memory a worker holds and the work a crash replays;
# within a batch, broker acks and database round trips are amortised.
MATCH_BATCH = 1000
PROJECT_BATCH = 2000


# The projector's back-off between failed writes: 0.2 s doubling to 5 s. The
# cap is how late the projection resumes after the database is back (a
# failed attempt against a stopped server costs one refused connection).
PROJECT_RETRY_FIRST_S = 0.2
PROJECT_RETRY_MAX_S = 5.0

T = TypeVar("T")


async def write_until_done(
    write: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`write()` again and again until it succeeds: a batch's offsets must not
    be committed before its rows are, so the projector never gives up."""
    async for attempt in AsyncRetrying(
        wait=wait_exponential(multiplier=PROJECT_RETRY_FIRST_S, max=PROJECT_RETRY_MAX_S),
        retry=retry_if_exception_type(Exception),
        sleep=sleep,
        before_sleep=lambda state: log.warning(
            "projection.retry",
            attempt=state.attempt_number,
            error=repr(state.outcome.exception()) if state.outcome else None,
        ),
    ):
        with attempt:
            return await write()
    raise AssertionError("unreachable: the retry loop never gives up")


def observe_since(histogram: Histogram, timestamps_ms: Sequence[int]) -> None:
    """Seconds from each Kafka record timestamp to now (a clock behind the
    producer's counts as 0, not a negative sample)."""
    now_ms = time.time() * 1000
    for at in timestamps_ms:
        histogram.observe(max(0.0, (now_ms - at) / 1000))


class Worker:
    def __init__(
        self,
        kafka: KafkaSettings,
        db: AsyncEngine,
        stack: StackSettings | None = None,
        activities: Stack | None = None,
    ) -> None:
        self.kafka = kafka
        stack = stack or StackSettings()
        self.fetch: Fetch | None = link_fetcher(stack)
        self.topics = Topics.from_settings(kafka)
        settings = ActivitySettings(**stack.model_dump())
        self._http: HttpStack | None = None
        if activities is None:
            if settings.stack_url:
                self._http = activities = HttpStack(settings)
            else:
                activities = NoStack()
        self.instances = InstanceRunner(
            kafka,
            self.topics,
            activities,
            stack_name=stack.stack,
            max_concurrency=settings.activity_max_concurrency,
            pause_activities=settings.pause_stage_activities,
        )
        self.index = TriggerIndex()
        # None unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_*).
        self.tracer = MatchTracer.from_environment()
        # The history topic is created to take records of max_record_bytes;
        # a bigger occurrence is recorded with an error instead (matching).
        self.max_record_bytes = kafka.max_record_bytes
        self.max_request_bytes = kafka.max_record_bytes + RECORD_BATCH_OVERHEAD
        self.reader = DefinitionsReader(kafka, self.topics.definitions, self.index)
        self.writer = ProjectionWriter(db)
        # One producer for the whole process, replaced when it is broken
        # (repeated fatal send errors of the match loop's batches).
        self.producer = ProducerHolder(
            lambda: create_producer(kafka, max_request_size=self.max_request_bytes)
        )
        self.matcher = BatchConsumer(
            kafka,
            self.topics.inbound,
            self.producer.guard(self._match_batch),
            group_id=kafka.consumer_group,
            name="match",
            max_records=MATCH_BATCH,
        )
        self.projector = BatchConsumer(
            kafka,
            [self.topics.occurrences, self.topics.history],
            self._project_batch,
            group_id=f"{kafka.consumer_group}.projector",
            name="project",
            max_records=PROJECT_BATCH,
            # The instance runner writes history in Kafka transactions: a
            # record of an aborted one (a fenced-off worker's) is never projected.
            # The occurrences topic has none, so nothing holds its reads back.
            read_committed=True,
        )

    def _match_all(self, records: Sequence[Record]) -> list[tuple[str, MatchResult]]:
        return match_records(
            records,
            self.index,
            max_bytes=self.kafka.max_event_bytes,
            max_record_bytes=self.max_record_bytes,
            fetch=self.fetch,
            workflows=self.reader.workflows,
        )

    async def _match_batch(self, records: Sequence[Record]) -> None:
        producer, topics = self.producer, self.topics
        if self.index.uses_link:
            # link() does blocking HTTP: keep the loop (heartbeats, the
            # projector) running while this batch waits on the stack.
            results = await asyncio.to_thread(self._match_all, records)
        else:
            results = self._match_all(records)
        outgoing: list[OutRecord] = []
        published = []
        matched_at_ms: list[int] = []
        # Counted per batch: labels() took ~3.6 µs a call in the worker profile.
        outcomes: collections.Counter[tuple[str, str]] = collections.Counter()
        now_ns = time.time_ns()
        for record, (coordinates, result) in zip(records, results, strict=True):
            if result.dead_letter_reason is not None:
                outcomes[record.topic, "dead_letter"] += 1
                DEAD_LETTERS.labels(result.dead_letter_kind or "not_envelope").inc()
                log.warning(
                    "event.dead_lettered", source=coordinates, reason=result.dead_letter_reason
                )
            elif result.matched:
                outcomes[record.topic, "matched"] += 1
                matched_at_ms.append(record.timestamp)
            else:
                outcomes[record.topic, "unmatched"] += 1
            count_trigger_errors(
                FILTER_ERRORS, (f.trigger.trigger.id for f in result.filter_errors)
            )
            count_trigger_errors(VARS_ERRORS, result.vars_errors)
            for failure in result.filter_errors:
                trigger = failure.trigger.trigger
                log.warning(
                    "trigger.filter_failed",
                    source=coordinates,
                    trigger=trigger.id,
                    filter=(trigger.filter or "")[:300],
                    error=failure.error[:300],
                    # 5 lines a minute per trigger (compose.logs), counted in
                    # orchestration_trigger_filter_errors_total.
                    throttle=trigger.id,
                )
            outgoing += [
                (out.topic, out.key, out.value, out.headers)
                for out in kafka_records(
                    result, topics, now_ns=now_ns, publish_events=self.kafka.publish_events
                )
            ]
            if self.kafka.publish_events:
                published += result.events
            OCCURRENCES.inc(result.matched)
        # Every record must be acknowledged before the batch's offsets are
        # committed: offsets never run ahead of what was produced. One send
        # per record, not `send_batched`: at 1,000 events/s the batches cost
        # 40-60 ms of p99 visible latency (A/B, benchmarks/pipeline.py (b)).
        pending = [
            await producer.send(t, key=k, value=v, headers=list(h)) for t, k, v, h in outgoing
        ]
        if pending:
            await asyncio.gather(*pending)
        for (topic, outcome), count in outcomes.items():
            EVENTS.labels(topic, outcome).inc(count)
        observe_since(MATCH_LATENCY, matched_at_ms)
        if self.tracer is not None:
            self.tracer.record(records, [result for _, result in results], time.time_ns())
        count_published(published)

    async def _project_batch(self, records: Sequence[Record]) -> None:
        decoded: list[tuple[int, dict[str, Any]]] = []
        for record in records:
            try:
                decoded.append((record.offset, history.decode(record.value)))
            except history.HistoryError as exc:
                UNPROJECTED.inc()
                log.error(
                    "history.unreadable",
                    source=f"{record.partition}/{record.offset}",
                    error=str(exc)[:300],
                )
        PROJECT_BATCH_SIZE.observe(len(records))
        unknown = await self._write_forever(decoded)
        observe_since(PROJECTION_LATENCY, [r.timestamp for r in records])
        for record in unknown:
            UNPROJECTED.inc()
            log.error("history.unknown_type", type=str(record.get("type"))[:100])
        PROJECTED.inc(len(decoded) - len(unknown))

    async def _write_forever(
        self, records: list[tuple[int, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        return await write_until_done(lambda: self.writer.write(records))

    async def start(self) -> None:
        await ensure_topics(self.kafka, self.topics)
        await self.reader.start()
        await self.producer.start()
        await self.matcher.start()
        await self.projector.start()
        # The runner sends through the holder, so always on the current producer.
        await self.instances.start(self.producer)
        log.info(
            "worker.started", inbound=list(self.topics.inbound), group=self.kafka.consumer_group
        )

    @property
    def loops(self) -> list[Loop]:
        """Every supervised loop of the worker (what `/healthz` reports)."""
        return [self.matcher.loop, self.projector.loop, self.instances.loop, self.reader.loop]

    @property
    def consumers(self) -> list[BatchConsumer]:
        """The batch loops whose progress `/healthz` watches."""
        return [self.matcher, self.projector, self.instances.consumer]

    async def stalls(self, limit: float) -> dict[str, str]:
        """Each batch loop with records waiting and no progress for `limit` seconds,
        and why (also refreshes the lag gauges)."""
        found = {}
        for consumer in self.consumers:
            stalled = await consumer.stalled(limit)
            if stalled is not None:
                waiting, idle = stalled
                found[consumer.loop.name] = (
                    f"no progress for {idle:.0f} s with {waiting} records waiting"
                )
        return found

    async def wait_for_death(self) -> LoopDied:
        """Return when any loop (match, project, instances, definitions tail) died; the
        process must then exit non-zero and be restarted."""
        died = await first_death(self.loops)
        log.error("worker.loop_died", loop=died.loop, error=str(died))
        return died

    async def stop(self) -> None:
        await self.instances.stop()
        if self._http is not None:
            await self._http.aclose()
        await self.matcher.stop()
        await self.projector.stop()
        await self.writer.aclose()
        await self.producer.stop()
        await self.reader.stop()
        if self.tracer is not None:
            await asyncio.to_thread(self.tracer.shutdown)
        log.info("worker.stopped")
