"""The instance runtime: runs the pure state machine (engine.instance) on Kafka.

One batch loop consumes `orchestration.commands` (group `<group>.instances`):

1. ownership follows the consumer group: when partitions are assigned, the
   compacted changelog `orchestration.instances` is read to its end for
   them (the live instances, and markers of those finished within 7 days,
   so a start redelivered for one is rejected) and every
   restored instance is re-armed (`Recover`): its timer at its recorded due
   time, or its in-flight activity re-sent with the same idempotency key as
   a new attempt, recorded before it is called. Revoked partitions drop
   their instances and cancel their calls and timers;
2. each command is decoded (an unreadable one is logged, counted, skipped)
   and stepped through the machine; a command at or below the instance's
   `applied_offset` was applied before (a batch redelivered after a crash)
   and is skipped, so replaying any suffix of the topic changes nothing;
3. the batch's history records go to the history topic, and the new states
   (a small finished marker for a terminated instance) to the changelog, keyed by
   instance id, with the consumed offsets, in one transaction per partition
   (below); the in-memory states are replaced only once all committed (a
   failed batch is replayed from the old ones);
4. activities then run as asyncio tasks (bounded by a semaphore) on the
   `Stack` port, timers as asyncio sleeps; their results come back as
   commands on the same topic (sent until the broker takes them), with
   deterministic ids, so a duplicate is rejected by the machine.

Exactly-once within Kafka: each owned commands partition has its own
transactional producer (`transactional_id` = `<group>.instances.<partition>`,
the same on every worker), started when the partition is assigned and before
its changelog is read, which fences the previous owner: a worker paused past
its session and resumed cannot commit anything any more. A batch's history
records, public events, changelog states and consumed offsets of one
partition commit in one transaction; the restore and the projector read
committed records only. Activity calls stay at-least-once towards the stack,
made safe by their idempotency keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition
from prometheus_client import Counter

from engine import commands, events, history
from engine.activities import ActivityFailure, Stack
from engine.instance import (
    Abort,
    ActivityFailed,
    ActivitySucceeded,
    CallActivity,
    CancelTimer,
    Effect,
    EmitHistory,
    EventReceived,
    Input,
    InstanceState,
    Outcome,
    Recover,
    Resume,
    SetTimer,
    Start,
    Terminated,
    TimerFired,
    step,
)
from streams import BatchConsumer, KafkaSettings, Record, Topics, codec, format_time
from streams.lifecycle import Loop
from streams.producers import ProducerHolder, create_producer, send_batched
from streams.settings import RECORD_BATCH_OVERHEAD
from streams.topics import scan

log = structlog.get_logger(__name__)

COMMANDS = Counter(
    "orchestration_instance_commands_total",
    "Instance commands by outcome",
    ["outcome"],
)

REPORT_RETRIES = Counter(
    "orchestration_instance_report_retries_total",
    "Activity results and due timers whose send to the commands topic was retried",
)

EVENTS_PUBLISHED = Counter(
    "orchestration_events_published_total",
    "Lifecycle events acknowledged on the orchestration topic, by type",
    ["type"],
)

INSTANCE_BATCH = 500

# A finished instance leaves a marker (`{"finished": <time>}`, ~60 bytes in
# the changelog, ~150 in memory) instead of its state; markers older than
# this are tombstoned at the next restore. 7 days: Kafka's default retention,
# so any redelivery of an event still in its topic finds the marker.
FINISHED_RETENTION = timedelta(days=7)


def to_input(
    command: commands.Command, *, stack: str, now: datetime, pause_activities: bool = False
) -> Input:
    """The machine input a command stands for."""
    match command:
        case commands.StartInstance():
            return Start(command, stack=stack, now=now, pause_activities=pause_activities)
        case commands.DeliverEvent():
            return EventReceived(command.name, now=now)
        case commands.AbortInstance():
            return Abort(now=now)
        case commands.ResumeActivity():
            return Resume(command.activity_id, command.paused_at, now=now)
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
        finished_retention: timedelta = FINISHED_RETENTION,
        pause_activities: bool = False,
    ) -> None:
        self.kafka = kafka
        self.topics = topics
        self.stack = stack
        self.stack_name = stack_name
        # Pause mode (BEHAVIOUR 14.4) for the instances this worker starts.
        self.pause_activities = pause_activities
        # The live instances of the partitions this worker owns, and where
        # each lives (its commands partition is its changelog partition).
        self.states: dict[str, InstanceState] = {}
        self._partition: dict[str, int] = {}
        # Instances that finished within `finished_retention`, and when: a start
        # command for one of them (an event redelivered or replayed) is
        # rejected instead of running the workflow again.
        self._finished: dict[str, tuple[int, datetime]] = {}
        self.finished_retention = finished_retention
        self.publish_events = kafka.publish_events
        self._owned: set[int] = set()
        # Owned partitions whose in-memory states or producer may be wrong (a
        # batch's transactions failed part-way): no command of theirs is
        # applied until they are fenced again and read back (`_resync`).
        self._stale: set[int] = set()
        # One batch or one rebalance step at a time: a rebalance never drops
        # states under a batch that is writing them.
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(max_concurrency)
        # Per instance: its in-flight activity call and its pending timer.
        self._calls: dict[str, asyncio.Task[None]] = {}
        self._timers: dict[str, tuple[str, asyncio.Task[None]]] = {}
        # Results and due timers go back to the commands topic on the shared
        # producer; everything derived from a batch goes through the owned
        # partition's transactional producer (fenced when another owner starts
        # one with the same id).
        self._producer: ProducerHolder | None = None
        self._txn: dict[int, AIOKafkaProducer] = {}
        self.max_request_bytes = kafka.max_record_bytes + RECORD_BATCH_OVERHEAD
        self.consumer = BatchConsumer(
            kafka,
            [topics.commands],
            self._run_batch,
            group_id=f"{kafka.consumer_group}.instances",
            name="instances",
            max_records=INSTANCE_BATCH,
            on_assigned=self._assigned,
            on_revoked=self._revoked,
            # Offsets commit inside each partition's transaction.
            commit_offsets=False,
            read_committed=True,
        )

    @property
    def loop(self) -> Loop:
        return self.consumer.loop

    async def start(self, producer: ProducerHolder) -> None:
        self._producer = producer
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        await self._cancel(list(self.states))
        await self._close_producers(set(self._txn))

    def transactional_id(self, partition: int) -> str:
        """One per commands partition, the same for every worker of the group: a
        new owner's producer fences the previous owner's (Kafka Streams' rule)."""
        return f"{self.consumer.group_id}.{partition}"

    async def _open_producers(self, partitions: set[int]) -> None:
        await self._close_producers(partitions & set(self._txn))
        for partition in sorted(partitions):
            producer = create_producer(
                self.kafka,
                transactional_id=self.transactional_id(partition),
                max_request_size=self.max_request_bytes,
            )
            # start() registers the id with the coordinator: a zombie's open
            # transaction is aborted and its later writes are refused.
            await producer.start()
            self._txn[partition] = producer

    async def _close_producers(self, partitions: set[int]) -> None:
        for partition in sorted(partitions):
            producer = self._txn.pop(partition, None)
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()

    # -- ownership ---------------------------------------------------------

    async def _assigned(self, partitions: set[TopicPartition]) -> None:
        gained = {tp.partition for tp in partitions} - self._owned
        if not gained:
            return
        async with self._lock:
            # Fence first, then read: the changelog is read to its end only
            # once no previous owner can still commit to it.
            await self._open_producers(gained)
            restored = await self._restore(gained)
            self._owned |= gained
            await self._recover(restored)

    async def _revoked(self, partitions: set[TopicPartition]) -> None:
        lost = {tp.partition for tp in partitions} & self._owned
        if not lost:
            return
        async with self._lock:
            dropped = await self._drop(lost)
            self._owned -= lost
            self._stale -= lost
            await self._close_producers(lost)
        log.info("instances.revoked", partitions=sorted(lost), instances=len(dropped))

    async def _resync(self, partitions: set[int]) -> None:
        """Rebuild `partitions` from the changelog, with new producers.

        A producer whose transaction failed may be left in a fatal state
        (aiokafka: `FATAL_ERROR -> IN_TRANSACTION` refused on every later
        batch), and its open transaction would hold read-committed readers
        back until the broker times it out (60 s). A new producer with the
        same transactional id aborts that transaction and fences the old one
        at once. Until this has succeeded the partitions stay stale: a
        failure here (the broker still away) leaves them so, and the next
        batch tries again before it applies anything.
        """
        self._stale |= partitions
        await self._drop(partitions)
        log.warning("instances.resync", partitions=sorted(partitions))
        await self._open_producers(partitions)
        await self._recover(await self._restore(partitions))
        self._stale -= partitions

    async def _drop(self, partitions: set[int]) -> list[str]:
        """Forget what this worker holds of `partitions` (calls and timers
        cancelled, states and finished markers dropped); the live instances dropped."""
        dropped = [iid for iid, p in self._partition.items() if p in partitions]
        await self._cancel(dropped)
        for iid in dropped:
            self.states.pop(iid, None)
            self._partition.pop(iid, None)
        for iid in [iid for iid, (p, _) in self._finished.items() if p in partitions]:
            del self._finished[iid]
        return dropped

    async def _cancel(self, instance_ids: Sequence[str]) -> None:
        tasks = [self._calls.pop(iid, None) for iid in instance_ids]
        tasks += [pair[1] for iid in instance_ids if (pair := self._timers.pop(iid, None))]
        live = [task for task in tasks if task is not None]
        for task in live:
            task.cancel()
        for task in live:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _restore(self, partitions: set[int]) -> list[str]:
        # Read the changelog partitions to their end: the latest state of each
        # instance, tombstones removing terminated ones. Only what owners
        # committed: a zombie's aborted writes are skipped.
        found: dict[str, tuple[int, InstanceState | datetime | None]] = {}
        changelog = scan(
            self.kafka, self.topics.instances, committed_only=True, partitions=sorted(partitions)
        )
        async with contextlib.aclosing(changelog) as records:
            async for record in records:
                key = (record.key or b"").decode()
                found[key] = (record.partition, _read_state(record.value))
        live, expired = [], []
        horizon = datetime.now(UTC) - self.finished_retention
        for iid, (partition, state) in found.items():
            if isinstance(state, InstanceState) and not state.terminated:
                self.states[iid] = state
                self._partition[iid] = partition
                live.append(iid)
            elif isinstance(state, datetime):
                if state < horizon:
                    expired.append(iid)
                    self._partition[iid] = partition
                else:
                    self._finished[iid] = (partition, state)
        await self._write(dict.fromkeys(expired, None), [], forget=True)
        log.info(
            "instances.restored",
            partitions=sorted(partitions),
            instances=len(live),
            finished=len(found) - len(live) - len(expired),
            expired=len(expired),
        )
        return live

    async def _recover(self, instance_ids: Sequence[str]) -> None:
        """Re-arm every restored instance: its timer, or its in-flight activity.

        A re-sent activity is first recorded (its new attempt) in the changelog
        and the history, and only then called.
        """
        now = datetime.now(UTC)
        changed: dict[str, InstanceState | None] = {}
        effects: list[tuple[str, InstanceState, Effect]] = []
        history_records: list[tuple[str, bytes]] = []
        published: list[events.PublicEvent] = []
        for iid in instance_ids:
            state = self.states[iid]
            outcome = step(state, Recover(now=now))
            if outcome.state is not None and outcome.state != state:
                changed[iid] = outcome.state
            self._collect(iid, outcome, changed, effects, history_records, published)
        await self._write(changed, history_records, published)
        for iid, state, effect in effects:
            self._apply(iid, state, effect)
        if instance_ids:
            log.info("instances.recovered", instances=len(instance_ids), rewritten=len(changed))

    # -- commands ----------------------------------------------------------

    async def _run_batch(self, records: Sequence[Record]) -> None:
        async with self._lock:
            await self._run_locked(records)

    async def _run_locked(self, records: Sequence[Record]) -> None:
        if self._stale & self._owned:
            await self._resync(self._stale & self._owned)
        # New states stay local until every record is acknowledged.
        states: dict[str, InstanceState | None] = {}
        effects: list[tuple[str, InstanceState, Effect]] = []
        history_records: list[tuple[str, bytes]] = []
        published: list[events.PublicEvent] = []
        partitions: dict[str, int] = {}
        # Next offset to consume per owned partition of the batch: committed in
        # that partition's transaction, with what the batch produced for it.
        offsets: dict[int, int] = {}
        for record in records:
            if record.partition not in self._owned:
                continue  # revoked while this batch was fetched
            offsets[record.partition] = record.offset + 1
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
            if (iid in states and states[iid] is None) or iid in self._finished:
                COMMANDS.labels("rejected").inc()
                log.info("command.rejected", command=command.id, reason="instance finished")
                continue
            current = states[iid] if iid in states else self.states.get(iid)
            if current is not None and record.offset <= current.applied_offset:
                COMMANDS.labels("duplicate").inc()
                continue
            now = datetime.now(UTC)
            machine_input = to_input(
                command, stack=self.stack_name, now=now, pause_activities=self.pause_activities
            )
            outcome = step(current, machine_input)
            if outcome.rejected is not None:
                COMMANDS.labels("rejected").inc()
                log.info("command.rejected", command=command.id, reason=outcome.rejected)
                continue
            COMMANDS.labels("applied").inc()
            assert outcome.state is not None
            applied = outcome.state.evolve(applied_offset=record.offset)
            states[iid] = applied
            partitions[iid] = record.partition
            started = None
            if isinstance(command, commands.StartInstance):
                started = events.Started(command.occurrence_id, command.trigger_id)
                # The instance row first, in this transaction: its stage rows
                # never wait for the occurrence (engine.history).
                history_records.append((iid, history.encode(instance_started(command, now))))
            self._collect(
                iid,
                Outcome(applied, outcome.effects),
                states,
                effects,
                history_records,
                published,
                started,
            )
        self._partition.update(partitions)
        try:
            await self._write(states, history_records, published, offsets=offsets)
        except Exception:
            # Some partitions may have committed and others not: the changelog
            # is the truth, so read those partitions back (and re-arm them)
            # before the batch is replayed from the committed offsets.
            await self._resync(set(offsets) | set(partitions.values()))
            raise
        for iid, state, effect in effects:
            self._apply(iid, state, effect)

    def _collect(
        self,
        iid: str,
        outcome: Outcome,
        states: dict[str, InstanceState | None],
        effects: list[tuple[str, InstanceState, Effect]],
        history_records: list[tuple[str, bytes]],
        published: list[events.PublicEvent],
        started: events.Started | None = None,
    ) -> None:
        assert outcome.state is not None
        emitted = []
        for effect in outcome.effects:
            if isinstance(effect, EmitHistory):
                emitted.append(effect.record)
                history_records.append((iid, history.encode(effect.record)))
            elif isinstance(effect, Terminated):
                states[iid] = None
            else:
                effects.append((iid, outcome.state, effect))
        if self.publish_events:
            workflow = outcome.state.workflow_id
            published += events.instance_events(iid, workflow, emitted, started=started)

    async def _write(
        self,
        states: dict[str, InstanceState | None],
        history_records: list[tuple[str, bytes]],
        published: Sequence[events.PublicEvent] = (),
        *,
        forget: bool = False,
        offsets: dict[int, int] | None = None,
    ) -> None:
        """One Kafka transaction per partition: its history records, public
        events, states (None: the instance finished, and its marker is
        written; with `forget`, a tombstone) and consumed offsets commit
        together or not at all. The in-memory states change only after every
        transaction committed (a failed batch is replayed from the old ones)."""
        topics = self.topics
        now = datetime.now(UTC)
        now_ns = time.time_ns()
        marker = None if forget else codec.dumps({"finished": now.isoformat()})
        writes: dict[int, list[tuple[str, str, bytes | None]]] = {}

        def add(topic: str, key: str, value: bytes | None) -> None:
            writes.setdefault(self._partition[key], []).append((topic, key, value))

        for iid, record in history_records:
            add(topics.history, iid, record)
        for event in published:
            add(topics.events, event.key, event.encode(now_ns))
        for iid, maybe in states.items():
            add(topics.instances, iid, marker if maybe is None else codec.dumps(maybe.to_wire()))
        offsets = offsets or {}

        async def commit(partition: int) -> None:
            producer = self._txn[partition]
            records = [(t, key.encode(), value, ()) for t, key, value in writes.get(partition, [])]
            async with producer.transaction():
                await send_batched(producer, records)
                if partition in offsets:
                    tp = TopicPartition(topics.commands, partition)
                    await producer.send_offsets_to_transaction(
                        {tp: offsets[partition]}, self.consumer.group_id
                    )

        # Independent producers: the partitions' transactions run side by side
        # (a commit is several broker round trips; in sequence they added up).
        results = await asyncio.gather(
            *(commit(p) for p in sorted(set(writes) | set(offsets))), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        count_published(published)
        for iid, maybe in states.items():
            if maybe is None:
                # Terminated: nothing it waited for matters any more (8.5).
                self.states.pop(iid, None)
                owner = self._partition.pop(iid, None)
                if not forget and owner is not None:
                    self._finished[iid] = (owner, now)
                call = self._calls.pop(iid, None)
                timer = self._timers.pop(iid, None)
                for task in (call, timer[1] if timer else None):
                    if task is not None:
                        task.cancel()
            else:
                self.states[iid] = maybe

    # -- effects -----------------------------------------------------------

    def _apply(self, iid: str, state: InstanceState, effect: Effect) -> None:
        if isinstance(effect, CallActivity):
            self._calls[iid] = self._spawn(iid, self._calls, self._call(iid, state.attempt, effect))
        elif isinstance(effect, SetTimer):
            old = self._timers.pop(iid, None)
            if old is not None:
                old[1].cancel()
            task = asyncio.create_task(self._timer(iid, effect))
            self._timers[iid] = (effect.timer_id, task)
        elif isinstance(effect, CancelTimer):
            pending = self._timers.get(iid)
            if pending is not None and pending[0] == effect.timer_id:
                del self._timers[iid]
                pending[1].cancel()

    @staticmethod
    def _spawn(iid: str, registry: dict[str, asyncio.Task[None]], coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro)

        def forget(done: asyncio.Task[None]) -> None:
            if registry.get(iid) is done:
                del registry[iid]

        task.add_done_callback(forget)
        return task

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
        await self._report(
            commands.FireTimer(
                id=f"{timer.timer_id}:fired", instance_id=iid, timer_id=timer.timer_id
            )
        )
        pending = self._timers.get(iid)
        if pending is not None and pending[0] == timer.timer_id:
            del self._timers[iid]

    async def _report(self, command: commands.Command) -> None:
        """Send a result or a due timer back as a command, until the broker takes it:
        giving up would leave the instance waiting forever."""
        assert self._producer is not None
        key, value = commands.encode(command)
        delay = 0.2
        while True:
            try:
                await self._producer.send_and_wait(self.topics.commands, key=key, value=value)
                return
            except Exception as exc:
                REPORT_RETRIES.inc()
                log.warning("instance.report_retry", command=command.id, error=repr(exc)[:300])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)


def instance_started(start: commands.StartInstance, now: datetime) -> history.InstanceStarted:
    """The matcher and the API date the instance; a start without a date is dated `now`."""
    return history.instance_started(
        {
            "id": start.instance_id,
            "workflowID": start.workflow_id,
            "createdAt": start.created_at or format_time(now),
            "variables": dict(start.variables),
        }
    )


def count_published(published: Sequence[events.PublicEvent]) -> None:
    for event in published:
        EVENTS_PUBLISHED.labels(event.type).inc()


def _read_state(value: bytes | None) -> InstanceState | datetime | None:
    """A changelog value: a live state, a finished marker (its time), a tombstone."""
    if value is None:
        return None
    wire = codec.loads(value)
    if isinstance(wire, dict) and "finished" in wire:
        return datetime.fromisoformat(str(wire["finished"]))
    return InstanceState.from_wire(wire)


class NoStack:
    """The stack port when no stack URL is configured: every call fails for good."""

    async def call(
        self, name: str, request: Any, *, idempotency_key: str | None
    ) -> dict[str, Any] | None:
        raise ActivityFailure(
            f"cannot run {name}: no stack URL configured (ORCHESTRATION_STACK_URL)",
            retryable=False,
        )
