"""The instance runtime: runs the pure state machine (engine.instance) on Kafka.

One batch loop consumes `orchestration.commands` (group `<group>.instances`):

1. each command is decoded (an unreadable one is logged, counted, skipped)
   and mapped to a machine input; the state of each instance lives in
   memory, restored from the compacted changelog `orchestration.instances`
   the first time a partition is seen;
2. the batch's history records go to the history topic, and the new states
   (a tombstone for a terminated instance) to the changelog, keyed by
   instance id; the handler waits for every acknowledgement, so the offsets
   (committed after it returns) never run ahead of what was produced, and
   the in-memory states are replaced only then (a failed batch is replayed
   from the old ones);
3. activities then run as asyncio tasks (bounded by a semaphore) on the
   `Stack` port, timers as asyncio sleeps; their results come back as
   commands on the same topic, with deterministic ids, so a duplicate is
   rejected by the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import Counter

from engine import commands, history
from engine.activities import ActivityFailure, Stack
from engine.instance import (
    Abort,
    ActivityFailed,
    ActivitySucceeded,
    CallActivity,
    CancelTimer,
    EmitHistory,
    EventReceived,
    Input,
    InstanceState,
    SetTimer,
    Start,
    Terminated,
    TimerFired,
    step,
)
from streams import BatchConsumer, KafkaSettings, Record, Topics, codec
from streams.lifecycle import Loop

log = structlog.get_logger(__name__)

COMMANDS = Counter(
    "orchestration_instance_commands_total",
    "Instance commands by outcome",
    ["outcome"],
)

INSTANCE_BATCH = 500


def to_input(command: commands.Command, *, stack: str, now: datetime) -> Input:
    """The machine input a command stands for."""
    match command:
        case commands.StartInstance():
            return Start(command, stack=stack, now=now)
        case commands.DeliverEvent():
            return EventReceived(command.name, now=now)
        case commands.AbortInstance():
            return Abort(now=now)
        case commands.ReportActivitySuccess():
            output = None if command.output is None else dict(command.output)
            return ActivitySucceeded(command.activity_id, output, now=now)
        case commands.ReportActivityFailure():
            return ActivityFailed(
                command.activity_id,
                code=command.code or "",
                message=command.message,
                retryable=command.retryable,
                now=now,
            )
        case commands.FireTimer():
            return TimerFired(command.timer_id, now=now)


class InstanceRunner:
    def __init__(
        self,
        kafka: KafkaSettings,
        topics: Topics,
        stack: Stack,
        *,
        stack_name: str = "default",
        max_concurrency: int = 32,
    ) -> None:
        self.kafka = kafka
        self.topics = topics
        self.stack = stack
        self.stack_name = stack_name
        self.states: dict[str, InstanceState] = {}
        self._restored: set[int] = set()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._producer: AIOKafkaProducer | None = None
        self.consumer = BatchConsumer(
            kafka,
            [topics.commands],
            self._run_batch,
            group_id=f"{kafka.consumer_group}.instances",
            name="instances",
            max_records=INSTANCE_BATCH,
        )

    @property
    def loop(self) -> Loop:
        return self.consumer.loop

    async def start(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        for task in [*self._tasks, *self._timers.values()]:
            task.cancel()
        for task in [*self._tasks, *self._timers.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._timers.clear()

    async def _restore(self, partition: int) -> None:
        # Read the changelog partition to its end: the latest state of each
        # instance of this partition, tombstones removing terminated ones.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.kafka_bootstrap_servers,
            enable_auto_commit=False,
        )
        await consumer.start()
        restored = 0
        try:
            tp = TopicPartition(self.topics.instances, partition)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=500)
                for record in batch.get(tp, []):
                    key = (record.key or b"").decode()
                    if record.value is None:
                        self.states.pop(key, None)
                    else:
                        self.states[key] = InstanceState.from_wire(codec.loads(record.value))
                        restored += 1
        finally:
            await consumer.stop()
        log.info("instances.restored", partition=partition, records=restored)

    async def _run_batch(self, records: Sequence[Record]) -> None:
        assert self._producer is not None
        producer, topics = self._producer, self.topics
        for partition in sorted({r.partition for r in records} - self._restored):
            await self._restore(partition)
            self._restored.add(partition)
        # New states stay local until every record is acknowledged.
        states: dict[str, InstanceState | None] = {}
        effects: list[tuple[str, InstanceState, Any]] = []
        pending = []
        for record in records:
            try:
                command = commands.decode(record.value)
            except commands.CommandError as exc:
                COMMANDS.labels("unreadable").inc()
                log.error(
                    "command.unreadable",
                    source=f"{record.partition}/{record.offset}",
                    error=str(exc)[:300],
                )
                continue
            iid = command.instance_id
            current = states[iid] if iid in states else self.states.get(iid)
            now = datetime.now(UTC)
            outcome = step(current, to_input(command, stack=self.stack_name, now=now))
            if outcome.rejected is not None:
                COMMANDS.labels("rejected").inc()
                log.info("command.rejected", command=command.id, reason=outcome.rejected)
                continue
            COMMANDS.labels("applied").inc()
            state = outcome.state
            assert state is not None
            states[iid] = state
            for effect in outcome.effects:
                if isinstance(effect, EmitHistory):
                    pending.append(
                        await producer.send(
                            topics.history, key=iid.encode(), value=history.encode(effect.record)
                        )
                    )
                elif isinstance(effect, Terminated):
                    states[iid] = None
                else:
                    effects.append((iid, state, effect))
        for iid, maybe in states.items():
            value = None if maybe is None else codec.dumps(maybe.to_wire())
            pending.append(await producer.send(topics.instances, key=iid.encode(), value=value))
        if pending:
            await asyncio.gather(*pending)
        for iid, maybe in states.items():
            if maybe is None:
                self.states.pop(iid, None)
            else:
                self.states[iid] = maybe
        for iid, state, effect in effects:
            self._apply(iid, state, effect)

    def _apply(self, iid: str, state: InstanceState, effect: Any) -> None:
        if isinstance(effect, CallActivity):
            self._spawn(self._call(iid, state.attempt, effect))
        elif isinstance(effect, SetTimer):
            old = self._timers.pop(effect.timer_id, None)
            if old is not None:
                old.cancel()
            task = asyncio.create_task(self._timer(iid, effect))
            self._timers[effect.timer_id] = task
        elif isinstance(effect, CancelTimer):
            timer = self._timers.pop(effect.timer_id, None)
            if timer is not None:
                timer.cancel()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, iid: str, attempt: int, call: CallActivity) -> None:
        # The id repeats for a redelivered attempt, so the machine drops the
        # second report; a new attempt gets a new id.
        base = f"{call.activity_id}:{attempt}"
        result: commands.Command
        async with self._slots:
            try:
                output = await self.stack.call(
                    call.name, call.request, idempotency_key=call.idempotency_key
                )
            except ActivityFailure as failure:
                result = commands.ReportActivityFailure(
                    id=f"{base}:failed",
                    instance_id=iid,
                    activity_id=call.activity_id,
                    code=failure.code,
                    message=failure.message,
                    retryable=failure.retryable,
                )
            except Exception as exc:  # a bug in a client must not lose the instance
                log.exception("activity.crashed", activity=call.activity_id)
                result = commands.ReportActivityFailure(
                    id=f"{base}:failed",
                    instance_id=iid,
                    activity_id=call.activity_id,
                    code=None,
                    message=str(exc) or type(exc).__name__,
                    retryable=True,
                )
            else:
                result = commands.ReportActivitySuccess(
                    id=f"{base}:succeeded",
                    instance_id=iid,
                    activity_id=call.activity_id,
                    output=output,
                )
        await self._report(result)

    async def _timer(self, iid: str, timer: SetTimer) -> None:
        delay = (timer.due - datetime.now(UTC)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        self._timers.pop(timer.timer_id, None)
        await self._report(
            commands.FireTimer(
                id=f"{timer.timer_id}:fired", instance_id=iid, timer_id=timer.timer_id
            )
        )

    async def _report(self, command: commands.Command) -> None:
        assert self._producer is not None
        key, value = commands.encode(command)
        try:
            await self._producer.send_and_wait(self.topics.commands, key=key, value=value)
        except Exception:
            # Not retried in this slice: the instance stays waiting (see the
            # module docstring of the report for what is missing).
            log.exception("instance.report_failed", command=command.id)
            raise


class NoStack:
    """The stack port when no stack URL is configured: every call fails for good."""

    async def call(
        self, name: str, request: Any, *, idempotency_key: str | None
    ) -> dict[str, Any] | None:
        raise ActivityFailure(
            f"cannot run {name}: no stack URL configured (ORCHESTRATION_STACK_URL)",
            retryable=False,
        )
