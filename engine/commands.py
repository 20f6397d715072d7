"""Commands to workflow instances, carried by the `orchestration.commands` topic.

The API writes them through the transactional outbox (same Postgres
transaction as the rows they accompany); the instance engine consumes them.
Every record is keyed by the instance id, so all commands of one instance
land on one partition, in the order the API committed them.

Wire format: a JSON object with a `type` discriminator and a unique `id`
(a UUID chosen by the writer) that lets the engine drop a command the relay
delivered twice (the outbox publishes at least once)::

    {"type": "instance.start", "id": "...", "instanceID": "...",
     "workflowID": "...", "config": {"name": ..., "stages": [...]},
     "variables": {"name": "value"}, "createdAt": "2025-03-04T10:15:30.123456Z",
     "occurrenceID": "...", "triggerID": "..."}  # the last two when a trigger started it
    {"type": "instance.event", "id": "...", "instanceID": "...", "name": "go"}
    {"type": "instance.abort", "id": "...", "instanceID": "..."}
    {"type": "instance.resume", "id": "...", "instanceID": "...",
     "activityID": "...", "pausedAt": "2025-03-04T11:00:00Z"}
    {"type": "instance.activity.succeeded", "id": "...", "instanceID": "...",
     "activityID": "...", "output": {...} | null}
    {"type": "instance.activity.failed", "id": "...", "instanceID": "...",
     "activityID": "...", "code": "..." | null, "message": "...", "retryable": true}
    {"type": "instance.timer.fired", "id": "...", "instanceID": "...", "timerID": "..."}

The last three are written by the instance runtime itself (engine.worker.
instances): activity results and due timers go through the same topic as
the API's commands, so one partition orders everything an instance sees.
Their ids are deterministic (activity id + attempt, timer id), so a result
reported twice is rejected by the state machine.

`instance.start` carries a snapshot of the workflow configuration: an
instance runs on the definition it was started with (BEHAVIOUR.md 8.1), even
if the workflow is soft-deleted afterwards. `instance.event` delivers a named
event (only the name matters, 8.4). `instance.abort` cancels the run (8.5).
`instance.resume` releases an activity held in pause mode (14.4) if it is
still held since `pausedAt` (as the client observed it).

`encode` gives the Kafka (key, value); `decode` reads a value back and raises
`CommandError` (a `ValueError`) for anything it does not recognise, so the
consumer can dead-letter it instead of stopping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from streams import codec

START: Final = "instance.start"
EVENT: Final = "instance.event"
ABORT: Final = "instance.abort"
RESUME: Final = "instance.resume"
ACTIVITY_SUCCEEDED: Final = "instance.activity.succeeded"
ACTIVITY_FAILED: Final = "instance.activity.failed"
TIMER_FIRED: Final = "instance.timer.fired"


class CommandError(ValueError):
    """A command record that cannot be read."""


@dataclass(frozen=True, slots=True)
class StartInstance:
    id: str
    instance_id: str
    workflow_id: str
    config: Mapping[str, Any]
    variables: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""
    # The occurrence and trigger that started it (empty when the API did): the
    # runtime announces SUCCEEDED_TRIGGER once the instance started (10.2).
    occurrence_id: str = ""
    trigger_id: str = ""


@dataclass(frozen=True, slots=True)
class DeliverEvent:
    id: str
    instance_id: str
    name: str


@dataclass(frozen=True, slots=True)
class AbortInstance:
    id: str
    instance_id: str


@dataclass(frozen=True, slots=True)
class ResumeActivity:
    id: str
    instance_id: str
    activity_id: str
    paused_at: str


@dataclass(frozen=True, slots=True)
class ReportActivitySuccess:
    id: str
    instance_id: str
    activity_id: str
    output: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ReportActivityFailure:
    id: str
    instance_id: str
    activity_id: str
    code: str | None
    message: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class FireTimer:
    id: str
    instance_id: str
    timer_id: str


Command = (
    StartInstance
    | DeliverEvent
    | AbortInstance
    | ResumeActivity
    | ReportActivitySuccess
    | ReportActivityFailure
    | FireTimer
)


def to_wire(command: Command) -> dict[str, Any]:
    base: dict[str, Any] = {"id": command.id, "instanceID": command.instance_id}
    match command:
        case StartInstance():
            start = {
                "type": START,
                **base,
                "workflowID": command.workflow_id,
                "config": dict(command.config),
                "variables": dict(command.variables),
                "createdAt": command.created_at,
            }
            if command.occurrence_id:
                start |= {"occurrenceID": command.occurrence_id, "triggerID": command.trigger_id}
            return start
        case DeliverEvent():
            return {"type": EVENT, **base, "name": command.name}
        case AbortInstance():
            return {"type": ABORT, **base}
        case ResumeActivity():
            return {
                "type": RESUME,
                **base,
                "activityID": command.activity_id,
                "pausedAt": command.paused_at,
            }
        case ReportActivitySuccess():
            output = None if command.output is None else dict(command.output)
            return {
                "type": ACTIVITY_SUCCEEDED,
                **base,
                "activityID": command.activity_id,
                "output": output,
            }
        case ReportActivityFailure():
            return {
                "type": ACTIVITY_FAILED,
                **base,
                "activityID": command.activity_id,
                "code": command.code,
                "message": command.message,
                "retryable": command.retryable,
            }
        case FireTimer():
            return {"type": TIMER_FIRED, **base, "timerID": command.timer_id}


def encode(command: Command) -> tuple[bytes, bytes]:
    """(key, value) for the commands topic: the key is the instance id."""
    return command.instance_id.encode(), codec.dumps(to_wire(command))


def decode(value: bytes | bytearray | memoryview | str) -> Command:
    try:
        data = codec.loads(value)
    except codec.DecodeError as exc:
        raise CommandError(f"command is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CommandError("command is not a JSON object")
    return from_wire(data)


def from_wire(data: Mapping[str, Any]) -> Command:
    kind = data.get("type")
    try:
        ident = _str(data, "id")
        instance_id = _str(data, "instanceID")
        if kind == START:
            config = data.get("config")
            variables = data.get("variables") or {}
            if not isinstance(config, dict):
                raise CommandError("'config' must be an object")
            if not isinstance(variables, dict) or not all(
                isinstance(v, str) for v in variables.values()
            ):
                raise CommandError("'variables' must map names to strings")
            return StartInstance(
                id=ident,
                instance_id=instance_id,
                workflow_id=_str(data, "workflowID"),
                config=config,
                variables=variables,
                created_at=str(data.get("createdAt") or ""),
                occurrence_id=str(data.get("occurrenceID") or ""),
                trigger_id=str(data.get("triggerID") or ""),
            )
        if kind == EVENT:
            return DeliverEvent(id=ident, instance_id=instance_id, name=_str(data, "name"))
        if kind == ABORT:
            return AbortInstance(id=ident, instance_id=instance_id)
        if kind == RESUME:
            return ResumeActivity(
                id=ident,
                instance_id=instance_id,
                activity_id=_str(data, "activityID"),
                paused_at=_str(data, "pausedAt"),
            )
        if kind == ACTIVITY_SUCCEEDED:
            output = data["output"]
            if output is not None and not isinstance(output, dict):
                raise CommandError("'output' must be an object or null")
            return ReportActivitySuccess(
                id=ident,
                instance_id=instance_id,
                activity_id=_str(data, "activityID"),
                output=output,
            )
        if kind == ACTIVITY_FAILED:
            code = data["code"]
            retryable = data["retryable"]
            if code is not None and not isinstance(code, str):
                raise CommandError("'code' must be a string or null")
            if not isinstance(retryable, bool):
                raise CommandError("'retryable' must be a boolean")
            return ReportActivityFailure(
                id=ident,
                instance_id=instance_id,
                activity_id=_str(data, "activityID"),
                code=code,
                message=_str(data, "message"),
                retryable=retryable,
            )
        if kind == TIMER_FIRED:
            return FireTimer(id=ident, instance_id=instance_id, timer_id=_str(data, "timerID"))
    except KeyError as exc:
        raise CommandError(f"command {kind!r} lacks {exc.args[0]!r}") from None
    raise CommandError(f"unknown command type {kind!r}")


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise CommandError(f"'{key}' must be a string")
    return value
