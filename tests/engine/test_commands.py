"""The command records of the `orchestration.commands` topic: wire round trip
and refusal of records the engine cannot read (dead-lettered, never fatal)."""

from __future__ import annotations

import pytest

from engine import commands

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "command",
    [
        commands.StartInstance(
            id="c1",
            instance_id="i1",
            workflow_id="w1",
            config={"name": "x", "stages": [{"noop": {}}]},
            variables={"a": "1"},
            created_at="2025-03-04T10:15:30.123456Z",
        ),
        commands.StartInstance(
            id="c1",
            instance_id="i1",
            workflow_id="w1",
            config={"stages": []},
            occurrence_id="o1",
            trigger_id="t1",
        ),
        commands.DeliverEvent(id="c2", instance_id="i1", name="go"),
        commands.AbortInstance(id="c3", instance_id="i1"),
        commands.ResumeActivity(
            id="c7", instance_id="i1", activity_id="i1:0:1", paused_at="2025-03-04T11:00:00Z"
        ),
        commands.ReportActivitySuccess(
            id="c4", instance_id="i1", activity_id="i1:0:0", output={"amount": 10**40}
        ),
        commands.ReportActivitySuccess(id="c5", instance_id="i1", activity_id="a", output=None),
        commands.ReportActivityFailure(
            id="c6",
            instance_id="i1",
            activity_id="i1:0:0",
            code="INSUFFICIENT_FUND",
            message="not enough",
            retryable=True,
        ),
        commands.ReportActivityFailure(
            id="c7", instance_id="i1", activity_id="a", code=None, message="m", retryable=False
        ),
        commands.FireTimer(id="c8", instance_id="i1", timer_id="i1:0:delay"),
    ],
)
def test_commands_round_trip(command: commands.Command) -> None:
    key, value = commands.encode(command)
    assert key == b"i1"
    assert commands.decode(value) == command


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[]",
        b'{"type": "instance.nope", "id": "c", "instanceID": "i"}',
        b'{"type": "instance.abort", "id": "c"}',
        b'{"type": "instance.activity.succeeded", "id": "c", "instanceID": "i", "activityID": "a"}',
        b'{"type": "instance.activity.succeeded", "id": "c", "instanceID": "i",'
        b' "activityID": "a", "output": [1]}',
        b'{"type": "instance.activity.failed", "id": "c", "instanceID": "i", "activityID": "a",'
        b' "code": null, "message": "m", "retryable": "yes"}',
        b'{"type": "instance.activity.failed", "id": "c", "instanceID": "i", "activityID": "a",'
        b' "code": 3, "message": "m", "retryable": true}',
        b'{"type": "instance.activity.failed", "id": "c", "instanceID": "i", "activityID": "a",'
        b' "message": "m", "retryable": true}',
        b'{"type": "instance.timer.fired", "id": "c", "instanceID": "i"}',
        b'{"type": "instance.timer.fired", "id": "c", "instanceID": "i", "timerID": 1}',
        b'{"type": "instance.event", "id": "c", "instanceID": "i", "name": 3}',
        b'{"type": "instance.start", "id": "c", "instanceID": "i", "workflowID": "w", "config": 1}',
        b'{"type": "instance.start", "id": "c", "instanceID": "i", "workflowID": "w",'
        b' "config": {}, "variables": {"a": 1}}',
    ],
)
def test_unreadable_commands(value: bytes) -> None:
    with pytest.raises(commands.CommandError):
        commands.decode(value)


def test_a_start_without_occurrence_keeps_its_wire_form() -> None:
    # What the API writes (and what older writers wrote) reads back with no occurrence.
    start = commands.StartInstance(id="c", instance_id="i", workflow_id="w", config={})
    wire = commands.to_wire(start)
    assert "occurrenceID" not in wire
    assert "triggerID" not in wire
    assert commands.from_wire(wire).occurrence_id == ""
