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
        commands.DeliverEvent(id="c2", instance_id="i1", name="go"),
        commands.AbortInstance(id="c3", instance_id="i1"),
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
        b'{"type": "instance.event", "id": "c", "instanceID": "i", "name": 3}',
        b'{"type": "instance.start", "id": "c", "instanceID": "i", "workflowID": "w", "config": 1}',
        b'{"type": "instance.start", "id": "c", "instanceID": "i", "workflowID": "w",'
        b' "config": {}, "variables": {"a": 1}}',
    ],
)
def test_unreadable_commands(value: bytes) -> None:
    with pytest.raises(commands.CommandError):
        commands.decode(value)
