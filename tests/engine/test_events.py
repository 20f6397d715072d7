"""engine.events: the public lifecycle events implied by history records (BEHAVIOUR 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine import events
from engine.commands import StartInstance
from engine.events import PublicEvent, Started, instance_events, occurrence_events
from engine.history import OccurrenceBody
from engine.instance import Abort, EmitHistory, Input, Outcome, Start, step
from streams import codec

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)
INSTANCE = "inst1"
WORKFLOW = "wf1"
BASE = {"id": WORKFLOW, "instanceID": INSTANCE}

SEND_WITHOUT_AMOUNT = {
    "send": {
        "source": {"account": {"id": "world", "ledger": "main"}},
        "destination": {"account": {"id": "users:1", "ledger": "main"}},
    }
}


def run(
    stages: list[dict[str, Any]], *then: Input, started: Started | None = None
) -> list[PublicEvent]:
    """The events of a real run of the state machine: the start step, then `then`."""
    command = StartInstance(
        id="cmd1", instance_id=INSTANCE, workflow_id=WORKFLOW, config={"stages": stages}
    )
    outcome = step(None, Start(command, "stack1", T0))
    published = instance_events(INSTANCE, WORKFLOW, _records(outcome), started=started or Started())
    for event in then:
        assert outcome.state is not None
        outcome = step(outcome.state, event)
        assert outcome.rejected is None, outcome.rejected
        published += instance_events(INSTANCE, WORKFLOW, _records(outcome))
    return published


def _records(outcome: Outcome) -> list[dict[str, Any]]:
    return [dict(e.record) for e in outcome.effects if isinstance(e, EmitHistory)]


def shape(published: list[PublicEvent]) -> list[tuple[str, dict[str, Any]]]:
    assert all(e.key == INSTANCE for e in published)
    return [(e.type, e.payload) for e in published]


def test_a_two_stage_success_publishes_every_event_in_order() -> None:
    published = run([{"noop": {}}, {"noop": {}}])
    assert shape(published) == [
        ("STARTED_WORKFLOW", BASE),
        ("STARTED_WORKFLOW_STAGE", BASE | {"number": 0}),
        ("SUCCEEDED_WORKFLOW_STAGE", BASE | {"number": 0}),
        ("STARTED_WORKFLOW_STAGE", BASE | {"number": 1}),
        ("SUCCEEDED_WORKFLOW_STAGE", BASE | {"number": 1}),
        ("SUCCEEDED_WORKFLOW", BASE),
    ]


def test_a_failing_second_stage_fails_the_stage_then_the_workflow() -> None:
    published = run([{"noop": {}}, SEND_WITHOUT_AMOUNT, {"noop": {}}])
    error = {"error": "amount must be specified"}
    assert shape(published) == [
        ("STARTED_WORKFLOW", BASE),
        ("STARTED_WORKFLOW_STAGE", BASE | {"number": 0}),
        ("SUCCEEDED_WORKFLOW_STAGE", BASE | {"number": 0}),
        ("STARTED_WORKFLOW_STAGE", BASE | {"number": 1}),
        ("FAILED_WORKFLOW_STAGE", BASE | {"number": 1} | error),
        ("FAILED_WORKFLOW", BASE | error),
    ]


def test_an_aborted_instance_fails_with_canceled() -> None:
    published = run(
        [{"noop": {}}, {"delay": {"duration": "1h"}}, {"noop": {}}],
        Abort(now=T0 + timedelta(minutes=1)),
    )
    canceled = {"error": "canceled"}
    assert shape(published) == [
        ("STARTED_WORKFLOW", BASE),
        ("STARTED_WORKFLOW_STAGE", BASE | {"number": 0}),
        ("SUCCEEDED_WORKFLOW_STAGE", BASE | {"number": 0}),
        ("STARTED_WORKFLOW_STAGE", BASE | {"number": 1}),
        ("FAILED_WORKFLOW_STAGE", BASE | {"number": 1} | canceled),
        ("FAILED_WORKFLOW", BASE | canceled),
    ]


def test_a_workflow_without_stages_still_starts_then_succeeds() -> None:
    assert shape(run([])) == [("STARTED_WORKFLOW", BASE), ("SUCCEEDED_WORKFLOW", BASE)]


def test_a_triggered_start_announces_the_trigger_right_after_started_workflow() -> None:
    published = run([{"noop": {}}], started=Started("occ1", "trig1"))
    assert shape(published)[:3] == [
        ("STARTED_WORKFLOW", BASE),
        (
            "SUCCEEDED_TRIGGER",
            {"id": "occ1", "triggerID": "trig1", "workflowInstanceID": INSTANCE},
        ),
        ("STARTED_WORKFLOW_STAGE", BASE | {"number": 0}),
    ]


def test_records_without_a_lifecycle_meaning_publish_nothing() -> None:
    stage_history = {
        "type": "stage.history",
        "instanceID": INSTANCE,
        "stage": 0,
        "name": "RunNoop",
        "input": {},
        "startedAt": "2025-03-04T10:00:00Z",
        "terminated": True,
    }
    activity = {**stage_history, "type": "activity.history", "position": 0, "attempt": 1}
    assert instance_events(INSTANCE, WORKFLOW, [stage_history, activity]) == []


def occurrence(**extra: Any) -> OccurrenceBody:
    body: OccurrenceBody = {
        "id": "occ1",
        "triggerID": "trig1",
        "date": "2025-03-04T10:00:00Z",
        "event": {"type": "X", "payload": {}},
    }
    body.update(extra)  # type: ignore[typeddict-item]
    return body


def test_a_failed_occurrence_is_a_failed_trigger_keyed_by_occurrence() -> None:
    (failed,) = occurrence_events(occurrence(error="variable 'x' failed: boom"))
    assert (failed.key, failed.type) == ("occ1", "FAILED_TRIGGER")
    assert failed.payload == {
        "id": "occ1",
        "triggerID": "trig1",
        "error": "variable 'x' failed: boom",
    }


def test_an_occurrence_that_starts_an_instance_leaves_its_event_to_the_instance() -> None:
    assert occurrence_events(occurrence(workflowInstanceID="inst1")) == []


def test_the_envelope_is_10_1s_dated_to_the_nanosecond() -> None:
    event = events.succeeded_trigger("occ1", "trig1", INSTANCE)
    # 2025-03-04T10:15:30.123456789Z
    wire = codec.loads(event.encode(1_741_083_330_123_456_789))
    assert wire == {
        "idempotency_key": "",
        "date": "2025-03-04T10:15:30.123456789Z",
        "app": "orchestration",
        "version": "v2",
        "type": "SUCCEEDED_TRIGGER",
        "payload": {"id": "occ1", "triggerID": "trig1", "workflowInstanceID": INSTANCE},
    }
    assert list(wire) == ["idempotency_key", "date", "app", "version", "type", "payload"]


def test_type_constants_are_the_spec_names() -> None:
    assert {
        events.STARTED_WORKFLOW,
        events.STARTED_WORKFLOW_STAGE,
        events.SUCCEEDED_WORKFLOW_STAGE,
        events.FAILED_WORKFLOW_STAGE,
        events.SUCCEEDED_WORKFLOW,
        events.FAILED_WORKFLOW,
        events.SUCCEEDED_TRIGGER,
        events.FAILED_TRIGGER,
    } == {
        "STARTED_WORKFLOW",
        "STARTED_WORKFLOW_STAGE",
        "SUCCEEDED_WORKFLOW_STAGE",
        "FAILED_WORKFLOW_STAGE",
        "SUCCEEDED_WORKFLOW",
        "FAILED_WORKFLOW",
        "SUCCEEDED_TRIGGER",
        "FAILED_TRIGGER",
    }
