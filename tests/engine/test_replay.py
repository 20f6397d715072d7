"""The pure part of a replay: window, read plan, progress, and the Kafka records of a match."""

import datetime as dt
import json
from typing import Any

import pytest

from engine import commands, history
from engine.definitions import WorkflowDefinition
from engine.matching import match_record
from engine.replay import (
    PartitionOffsets,
    Progress,
    ReplayError,
    Window,
    kafka_records,
    occurrence_of,
    plan,
    single_trigger_index,
)
from streams import Topics
from tests.builders import make_trigger

pytestmark = pytest.mark.unit

TOPICS = Topics(
    inbound=("ledger",),
    definitions="defs",
    commands="cmds",
    history="hist",
    occurrences="occ",
    events="events",
    dead_letter="dlq",
)
WORKFLOW = WorkflowDefinition(
    id="w1", config={"name": "pay", "stages": []}, created_at="2025-03-04T09:00:00Z"
)
NOW = dt.datetime(2025, 3, 4, 10, 0, tzinfo=dt.UTC)


def event(key: str, **payload: Any) -> bytes:
    return json.dumps(
        {
            "idempotency_key": key,
            "date": "2025-03-04T09:00:01Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "payload": {"ledger": "main", **payload},
        }
    ).encode()


def match(raw: bytes, **trigger: Any) -> Any:
    index = single_trigger_index(make_trigger(**trigger), WORKFLOW)
    return match_record(
        raw,
        {},
        index,
        coordinates="ledger/0/1",
        max_bytes=1 << 20,
        now=NOW,
        workflows={"w1": WORKFLOW},
    )


def test_a_match_becomes_its_history_record_then_its_start_command() -> None:
    result = match(event("e1"))
    records = kafka_records(result, TOPICS, now_ns=0, publish_events=False)
    assert [r.topic for r in records] == ["occ", "cmds"]
    occurred = history.decode(records[0].value)
    assert occurred["type"] == history.TRIGGER_OCCURRED
    start = commands.decode(records[1].value)
    assert isinstance(start, commands.StartInstance)
    # Both keyed by the instance, as the live matcher sends them.
    assert records[0].key == records[1].key == start.instance_id.encode()
    assert occurred["instance"]["id"] == start.instance_id


def test_the_same_event_replayed_yields_the_same_records_ids() -> None:
    first = kafka_records(match(event("e1")), TOPICS, now_ns=0)
    again = kafka_records(match(event("e1")), TOPICS, now_ns=0)
    assert [r.key for r in first] == [r.key for r in again]
    assert commands.decode(first[1].value).id == commands.decode(again[1].value).id


def test_a_failed_occurrence_is_announced_and_starts_nothing() -> None:
    result = match(event("e1"), vars={"x": "event.missing.deeper"})
    records = kafka_records(result, TOPICS, now_ns=0)
    assert [r.topic for r in records] == ["occ", "events"]
    assert kafka_records(result, TOPICS, now_ns=0, publish_events=False)[-1].topic == "occ"


def test_a_replay_drops_dead_letters_the_worker_already_sent() -> None:
    result = match(b"not json")
    assert [r.topic for r in kafka_records(result, TOPICS, now_ns=0)] == ["dlq"]
    assert kafka_records(result, TOPICS, now_ns=0, dead_letters=False) == []


def test_the_index_refuses_a_deleted_or_foreign_workflow() -> None:
    gone = WorkflowDefinition(id="w1", config={}, created_at="x", deleted_at="y")
    with pytest.raises(ReplayError, match="deleted"):
        single_trigger_index(make_trigger(), gone)
    with pytest.raises(ReplayError, match="runs workflow"):
        single_trigger_index(make_trigger(workflow_id="w2"), WORKFLOW)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (None, None, "'from' must be"),
        (12, None, "'from' must be"),
        ("yesterday", None, "not an RFC 3339"),
        ("2025-03-04T10:00:00", None, "time zone"),
        ("2025-03-04T10:00:00Z", "2025-03-04T09:00:00Z", "before 'from'"),
        ("2025-03-04T10:00:00Z", "soon", "'to' is not"),
    ],
)
def test_bad_windows_are_refused_naming_the_field(start: Any, end: Any, message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        Window.parse(start, end)


def test_the_window_is_inclusive_in_milliseconds() -> None:
    window = Window.parse("2025-03-04T10:00:00.0019Z", "2025-03-04T10:00:01+00:00")
    start = window.start_ms
    assert start % 1000 == 1  # 1.9 ms rounds down to 1 ms, exactly
    assert window.contains(start)
    assert not window.contains(start - 1)
    assert window.end_ms is not None
    assert window.contains(window.end_ms)
    assert not window.contains(window.end_ms + 1)
    assert Window.parse("2025-03-04T10:00:00Z").contains(10**15)


def offsets(**overrides: Any) -> PartitionOffsets:
    values: dict[str, Any] = {
        "topic": "ledger",
        "partition": 0,
        "beginning": 0,
        "end": 100,
        "at_start": 40,
    }
    values.update(overrides)
    return PartitionOffsets(**values)


def test_the_plan_reads_from_the_start_time_to_the_end_time_or_the_end() -> None:
    window = Window.parse("2025-03-04T10:00:00Z")
    [r] = plan([offsets()], window).ranges
    assert (r.start, r.stop) == (40, 100)
    [r] = plan([offsets(after_end=60)], window).ranges
    assert (r.start, r.stop) == (40, 60)
    # Nothing at or after `from`: an empty range at the end.
    [r] = plan([offsets(at_start=None)], window).ranges
    assert r.size == 0
    assert plan([offsets(), offsets(partition=1, at_start=90)], window).total == 70


def test_a_from_older_than_retention_is_reported_truncated_not_refused() -> None:
    window = Window.parse("2020-01-01T00:00:00Z")
    reading = plan(
        [
            offsets(beginning=40),
            offsets(partition=1, beginning=10),  # kept records before the window
            offsets(partition=2, beginning=100, at_start=None),  # emptied by retention
            offsets(partition=3, at_start=None),  # nothing in the window, nothing removed
        ],
        window,
    )
    assert reading.truncated == ("ledger/0", "ledger/2")
    progress = Progress(id="r", trigger_id="t1", window=window, truncated=reading.truncated)
    body = progress.to_json()
    assert body["truncated"] is True
    assert "ledger/0" in body["message"]
    assert "message" not in Progress(id="r", trigger_id="t1", window=window).to_json()


def test_progress_counts_occurrences_and_starts() -> None:
    progress = Progress(id="r", trigger_id="t1", window=Window.parse("2025-03-04T10:00:00Z"))
    progress.count(match(event("e1")))
    progress.count(match(event("e2", ledger="other"), filter='event.ledger == "main"'))
    progress.finish()
    body = progress.to_json()
    assert (body["inWindow"], body["matched"], body["occurrences"], body["starts"]) == (2, 1, 1, 1)
    assert body["done"] is True
    assert body["error"] is None
    assert body["finishedAt"]


def test_occurrences_already_recorded_are_counted_apart_and_start_nothing() -> None:
    result = match(event("e1"))
    occurrence = occurrence_of(result)
    assert occurrence is not None
    assert occurrence == result.starts[0].occurrence_id
    assert occurrence_of(match(b"not json")) is None
    progress = Progress(id="r", trigger_id="t1", window=Window.parse("2025-03-04T10:00:00Z"))
    progress.count(result, known=True)
    body = progress.to_json()
    assert (body["occurrences"], body["known"], body["starts"]) == (1, 1, 0)
