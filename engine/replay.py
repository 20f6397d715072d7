"""Replaying past inbound events into one trigger (an extension, not upstream).

Pure: the window, the read plan per partition, the progress a replay
reports, and `kafka_records`, which turns one `MatchResult` into the Kafka
records the live matcher produces for it. The reading and sending lives in
`engine.worker.replayer`; the API and the CLI both drive it.

A replay matches with an index holding only the replayed trigger and the
same `engine.matching.match_record` as the worker, so the ids are the live
ones: an event the worker already matched yields the same occurrence (the
projector inserts it once) and the same start command (the runtime rejects
it), and replaying twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine import commands
from engine.definitions import WorkflowDefinition
from engine.matching import MatchResult
from streams import Topics, codec, format_time
from triggers import Trigger, TriggerIndex


class ReplayError(ValueError):
    """A replay that cannot start: its window or its definitions are wrong."""


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


def kafka_records(
    result: MatchResult,
    topics: Topics,
    *,
    now_ns: int,
    dead_letters: bool = True,
    publish_events: bool = True,
) -> list[KafkaRecord]:
    """What one matched record produces, in the live matcher's order: occurrence
    records (and dead letters), start commands, then public events dated `now_ns`.

    A replay passes `dead_letters=False`: the worker already dead-lettered
    the unreadable records once when they arrived.
    """
    out = [
        KafkaRecord(
            topics.dead_letter if o.dead_letter else topics.occurrences, o.key, o.value, o.headers
        )
        for o in result.outputs
        if dead_letters or not o.dead_letter
    ]
    for start in result.starts:
        out.append(KafkaRecord(topics.commands, *commands.encode(start)))
    if publish_events:
        out.extend(
            KafkaRecord(topics.events, e.key.encode(), e.encode(now_ns)) for e in result.events
        )
    return out


def occurrence_of(result: MatchResult) -> str | None:
    """The occurrence id a single-trigger match recorded (None: it matched nothing)."""
    for out in result.outputs:
        if not out.dead_letter:
            occurrence: str = codec.loads(out.value)["occurrence"]["id"]
            return occurrence
    return None


def single_trigger_index(trigger: Trigger, workflow: WorkflowDefinition) -> TriggerIndex:
    """An index holding only `trigger`, its workflow live (a deleted workflow
    matches nothing live either, so it is refused before)."""
    if workflow.id != trigger.workflow_id:
        raise ReplayError(f"trigger {trigger.id} runs workflow {trigger.workflow_id}")
    if workflow.deleted_at is not None:
        raise ReplayError(f"workflow {workflow.id} is deleted")
    index = TriggerIndex()
    index.put_workflow(workflow.id, deleted=False)
    index.put_trigger(trigger)
    return index


def parse_time(value: Any, name: str) -> dt.datetime:
    """An RFC 3339 timestamp with an offset (`2025-03-04T10:00:00Z`)."""
    if not isinstance(value, str):
        raise ReplayError(f"'{name}' must be an RFC 3339 timestamp string")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ReplayError(f"'{name}' is not an RFC 3339 timestamp: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        raise ReplayError(f"'{name}' needs a time zone offset (Z or +hh:mm)")
    return parsed


@dataclass(frozen=True, slots=True)
class Window:
    """Kafka record timestamps in [start, end], both inclusive; no end: up to the
    end offsets read when the replay starts."""

    start: dt.datetime
    end: dt.datetime | None = None

    @classmethod
    def parse(cls, start: Any, end: Any = None) -> Window:
        window = cls(parse_time(start, "from"), None if end is None else parse_time(end, "to"))
        if window.end is not None and window.end < window.start:
            raise ReplayError("'to' is before 'from'")
        return window

    @property
    def start_ms(self) -> int:
        return _ms(self.start)

    @property
    def end_ms(self) -> int | None:
        return None if self.end is None else _ms(self.end)

    def contains(self, timestamp_ms: int) -> bool:
        end = self.end_ms
        return timestamp_ms >= self.start_ms and (end is None or timestamp_ms <= end)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _ms(value: dt.datetime) -> int:
    # Kafka timestamps are milliseconds: a finer time rounds down (exact, no float).
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class PartitionRange:
    topic: str
    partition: int
    start: int  # first offset to read
    stop: int  # first offset not to read

    @property
    def size(self) -> int:
        return max(self.stop - self.start, 0)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    ranges: tuple[PartitionRange, ...]
    # Partitions whose records before `from` may have been removed by retention.
    truncated: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(r.size for r in self.ranges)


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    """What the broker says about one partition when the replay starts."""

    topic: str
    partition: int
    beginning: int  # log start offset: older records are gone
    end: int  # high watermark
    # offsets_for_times: first offset with a timestamp >= from / > to (None: none).
    at_start: int | None
    after_end: int | None = None
    # Timestamp of the oldest retained record, when it is at `at_start`.
    oldest_ms: int | None = None


def plan(partitions: Iterable[PartitionOffsets], window: Window) -> ReadPlan:
    """Offsets to read per partition. A log start offset above 0 with no record
    kept before the window means retention removed records that may have been
    in it: the replay says so (`truncated`) and reads what is left."""
    ranges = []
    truncated = []
    for p in partitions:
        start = p.end if p.at_start is None else max(p.at_start, p.beginning)
        stop = p.end if p.after_end is None else min(p.after_end, p.end)
        ranges.append(PartitionRange(p.topic, p.partition, start, max(stop, start)))
        # None with a log start above 0: retention emptied the partition.
        if p.beginning > 0 and (p.at_start is None or p.at_start <= p.beginning):
            truncated.append(f"{p.topic}/{p.partition}")
    return ReadPlan(tuple(ranges), tuple(truncated))


@dataclass(slots=True)
class Progress:
    """A replay's counters, as `GET .../replays/{id}` and the CLI report them."""

    id: str
    trigger_id: str
    window: Window
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    to_read: int = 0  # records in the planned offset ranges
    read: int = 0  # records read (inside the window or not)
    in_window: int = 0  # of those, with a timestamp inside [from, to]
    matched: int = 0  # events that produced at least one occurrence
    occurrences: int = 0
    starts: int = 0  # start commands sent (the runtime drops those of known instances)
    # Occurrences already in the projection: nothing sent for them (their
    # instance may have finished long ago: a second start must never be sent).
    known: int = 0
    filter_errors: int = 0
    truncated: tuple[str, ...] = ()
    done: bool = False
    error: str | None = None
    finished_at: dt.datetime | None = None

    def count(self, result: MatchResult, *, known: bool = False) -> None:
        self.in_window += 1
        self.matched += 1 if result.matched else 0
        self.occurrences += result.matched
        self.filter_errors += len(result.filter_errors)
        if known:
            self.known += result.matched
        else:
            self.starts += len(result.starts)

    def finish(self, error: str | None = None) -> None:
        self.done = True
        self.error = error
        self.finished_at = dt.datetime.now(dt.UTC)

    @property
    def message(self) -> str | None:
        if not self.truncated:
            return None
        return (
            f"retention removed the oldest records of {', '.join(self.truncated)}: "
            "events of the window older than the oldest record kept were not replayed"
        )

    def to_json(self) -> dict[str, Any]:
        end = self.window.end
        out: dict[str, Any] = {
            "id": self.id,
            "triggerID": self.trigger_id,
            "from": format_time(self.window.start),
            "to": None if end is None else format_time(end),
            "startedAt": format_time(self.started_at),
            "finishedAt": None if self.finished_at is None else format_time(self.finished_at),
            "done": self.done,
            "error": self.error,
            "toRead": self.to_read,
            "read": self.read,
            "inWindow": self.in_window,
            "matched": self.matched,
            "occurrences": self.occurrences,
            "starts": self.starts,
            "known": self.known,
            "filterErrors": self.filter_errors,
            "truncated": bool(self.truncated),
        }
        if self.truncated:
            out["message"] = self.message
        return out
