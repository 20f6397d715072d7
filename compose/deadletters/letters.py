"""Dead letters as an operator sees them: what to print, what to replay. Pure.

The worker writes one record per rejected inbound event to the dead-letter
topic: the original bytes as value, headers `reason` and `source`
(`topic/partition/offset` of the rejected record). Replay sends those bytes
back to the source topic with a `dead_letter_replay` header naming the dead
letter, and marks it replayed (see `compose.deadletters.kafka`).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

REPLAY_HEADER = "dead_letter_replay"
# The worker keeps the rejected record's headers under this prefix
# (`engine.matching.ORIGINAL_HEADER_PREFIX`; not imported: this CLI module
# loads for every command, the engine's import graph should not).
ORIGINAL_HEADER_PREFIX = "original."
# Enough to recognise an event's type in one terminal line.
PREVIEW_CHARS = 80


@dataclass(frozen=True, slots=True)
class Source:
    """Where a dead-lettered record was read."""

    topic: str
    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> Source | None:
        # Kafka topic names have no "/": the last two fields are numbers.
        topic, sep, rest = text.rpartition("/")
        topic, sep2, partition = topic.rpartition("/")
        if not (sep and sep2 and topic and partition.isdigit() and rest.isdigit()):
            return None
        return cls(topic, int(partition), int(rest))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of the dead-letter topic."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    reason: str
    source: str
    value: bytes
    # The rejected record's own headers, as the worker kept them.
    original_headers: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def from_record(
        cls,
        topic: str,
        partition: int,
        offset: int,
        timestamp_ms: int,
        headers: Sequence[tuple[str, bytes]],
        value: bytes | None,
    ) -> DeadLetter:
        named = {k: v.decode("utf-8", "replace") for k, v in headers}
        n = len(ORIGINAL_HEADER_PREFIX)
        original = tuple((k[n:], v) for k, v in headers if k.startswith(ORIGINAL_HEADER_PREFIX))
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            timestamp_ms=timestamp_ms,
            reason=named.get("reason", ""),
            source=named.get("source", ""),
            value=value or b"",
            original_headers=original,
        )

    @property
    def coordinates(self) -> str:
        """`topic/partition/offset` of the dead letter itself (the replay marker's key)."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The original headers, with the marker of this replay instead of any earlier one."""
        kept = [(k, v) for k, v in self.original_headers if k != REPLAY_HEADER]
        return [*kept, (REPLAY_HEADER, self.coordinates.encode())]

    def matches(self, reason: str | None) -> bool:
        """Whether `--reason` selects it: a case-sensitive substring of its reason."""
        return reason is None or reason in self.reason


def preview(value: bytes, chars: int = PREVIEW_CHARS) -> str:
    """The first `chars` characters, one line, every unprintable character escaped."""
    # 4 bytes per character at most: decode no more than can be shown.
    text = value[: 4 * chars + 4].decode("utf-8", "backslashreplace")
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    if len(shown) > chars or len(value) > 4 * chars + 4:
        return shown[:chars] + "..."
    return shown


def format_time(timestamp_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Summary:
    """What `dead-letters list` shows of one dead letter (not its whole value)."""

    partition: int
    offset: int
    timestamp_ms: int
    reason: str
    source: str
    size: int
    preview: str
    # The dead letter whose replay this record was (it failed again), if any.
    replay_of: str | None = None

    @classmethod
    def of(cls, letter: DeadLetter) -> Summary:
        replay_of = dict(letter.original_headers).get(REPLAY_HEADER)
        return cls(
            partition=letter.partition,
            offset=letter.offset,
            timestamp_ms=letter.timestamp_ms,
            reason=letter.reason,
            source=letter.source,
            size=len(letter.value),
            preview=preview(letter.value),
            replay_of=None if replay_of is None else replay_of.decode("utf-8", "replace"),
        )

    def line(self) -> str:
        again = "" if self.replay_of is None else f"replay_of={self.replay_of}  "
        return (
            f"{self.partition}/{self.offset}  {format_time(self.timestamp_ms)}  "
            f"{self.size}B  source={self.source}  {again}reason={self.reason}  {self.preview}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "time": format_time(self.timestamp_ms),
            "reason": self.reason,
            "source": self.source,
            "size": self.size,
            "preview": self.preview,
            "replay_of": self.replay_of,
        }


@dataclass(slots=True)
class Newest:
    """The `limit` newest summaries seen, in bounded memory (a topic may hold millions)."""

    limit: int
    _heap: list[tuple[tuple[int, int, int], Summary]] = field(default_factory=list)

    def add(self, summary: Summary) -> None:
        item = ((summary.timestamp_ms, summary.partition, summary.offset), summary)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, item)
        elif self.limit > 0 and item[0] > self._heap[0][0]:
            heapq.heapreplace(self._heap, item)

    def newest_first(self) -> list[Summary]:
        return [s for _, s in sorted(self._heap, key=lambda item: item[0], reverse=True)]


class Outcome(Enum):
    REPLAY = "replay"
    ALREADY_REPLAYED = "already replayed"
    NO_SOURCE = "no readable source header"
    SOURCE_GONE = "source topic does not exist"


def decide(letter: DeadLetter, replayed: Collection[str], topics: Collection[str]) -> Outcome:
    """What replay does with one selected dead letter."""
    if letter.coordinates in replayed:
        return Outcome.ALREADY_REPLAYED
    source = Source.parse(letter.source)
    if source is None:
        return Outcome.NO_SOURCE
    if source.topic not in topics:
        return Outcome.SOURCE_GONE
    return Outcome.REPLAY


@dataclass(slots=True)
class Tally:
    """Replay's summary line."""

    replayed: int = 0
    skipped: int = 0
    failed: int = 0

    def count(self, outcome: Outcome | None) -> None:
        """`None`: the send itself failed."""
        if outcome is Outcome.REPLAY:
            self.replayed += 1
        elif outcome is Outcome.ALREADY_REPLAYED:
            self.skipped += 1
        else:
            self.failed += 1

    def line(self, *, dry_run: bool) -> str:
        verb = "would replay" if dry_run else "replayed"
        return (
            f"{verb} {self.replayed}, skipped {self.skipped} (already replayed), "
            f"failed {self.failed}"
        )
