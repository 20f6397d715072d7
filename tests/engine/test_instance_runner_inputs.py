"""The instance runtime's mapping of commands to machine inputs, and its changelog topic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine import commands
from engine.instance import (
    Abort,
    ActivityFailed,
    ActivitySucceeded,
    EventReceived,
    Resume,
    Start,
    TimerFired,
)
from engine.worker.instances import to_input
from streams import KafkaSettings, Topics

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def test_each_command_maps_to_its_machine_input() -> None:
    start = commands.StartInstance(id="c", instance_id="i", workflow_id="w", config={})
    assert to_input(start, stack="s1", now=NOW) == Start(start, stack="s1", now=NOW)
    event = commands.DeliverEvent(id="c", instance_id="i", name="go")
    assert to_input(event, stack="s", now=NOW) == EventReceived("go", now=NOW)
    abort = commands.AbortInstance(id="c", instance_id="i")
    assert to_input(abort, stack="s", now=NOW) == Abort(now=NOW)
    ok = commands.ReportActivitySuccess(
        id="c", instance_id="i", activity_id="a", output={"n": 10**30}
    )
    assert to_input(ok, stack="s", now=NOW) == ActivitySucceeded("a", {"n": 10**30}, now=NOW)
    failed = commands.ReportActivityFailure(
        id="c", instance_id="i", activity_id="a", code=None, message="m", retryable=False
    )
    assert to_input(failed, stack="s", now=NOW) == ActivityFailed(
        "a", code="", message="m", retryable=False, now=NOW
    )
    fired = commands.FireTimer(id="c", instance_id="i", timer_id="t")
    assert to_input(fired, stack="s", now=NOW) == TimerFired("t", now=NOW)
    resume = commands.ResumeActivity(
        id="c", instance_id="i", activity_id="a", paused_at="2025-03-04T11:00:00Z"
    )
    assert to_input(resume, stack="s", now=NOW) == Resume("a", "2025-03-04T11:00:00Z", now=NOW)


def test_the_workers_pause_mode_reaches_the_start_input() -> None:
    start = commands.StartInstance(id="c", instance_id="i", workflow_id="w", config={})
    paused = to_input(start, stack="s1", now=NOW, pause_activities=True)
    assert paused == Start(start, stack="s1", now=NOW, pause_activities=True)


def test_the_instances_changelog_is_compacted_and_partitioned_like_commands() -> None:
    topics = Topics.from_settings(KafkaSettings(topic_prefix="x."))
    assert topics.instances == "x.orchestration.instances"
    created = {t.name: t for t in topics.new_topics(4)}
    changelog = created[topics.instances]
    assert changelog.topic_configs == {"cleanup.policy": "compact"}
    assert changelog.num_partitions == created[topics.commands].num_partitions == 4
