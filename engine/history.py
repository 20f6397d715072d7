"""History records, keyed by instance id: the projector's only input contract.

They come on two topics (streams.Topics): the matcher's `trigger.occurred`
records on `orchestration.occurrences`, without transactions, and the instance
runtime's on `orchestration.history`, in Kafka transactions. Both insert the
instance row if it is missing (`trigger.occurred` and `instance.started`
carry the same body), so neither waits for the other: an instance's stage
rows never depend on the order of the two topics.

Every record is a JSON object with a `type` discriminator. Most carry the
*full current row* of what they describe, so the projector upserts them by
natural key and the last record wins (records of one instance share a key,
so a partition keeps them in order):

| type | row | natural key |
|---|---|---|
| `trigger.occurred` | an occurrence and the instance it starts | occurrence id |
| `instance.started` | the instance row, first record of every run | instance id |
| `stage.status` | a `status[]` row (BEHAVIOUR 4.3) | (instance, stage, run id) |
| `stage.history` | an instance history entry (4.5) | (instance, stage) |
| `activity.history` | a stage history entry (4.6) | (instance, stage, position) |
| `instance.terminated` | the instance's terminal state | instance id |

`decode` reads a record and raises `HistoryError` for anything it does not
recognise; the projector counts and logs those instead of dropping them
silently, so a record type added by a newer writer is visible at once.
Rebuilding Postgres from the topic gives the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, NotRequired, TypedDict

from streams import codec

TRIGGER_OCCURRED: Final = "trigger.occurred"
INSTANCE_STARTED: Final = "instance.started"
STAGE_STATUS: Final = "stage.status"
STAGE_HISTORY: Final = "stage.history"
ACTIVITY_HISTORY: Final = "activity.history"
INSTANCE_TERMINATED: Final = "instance.terminated"

# What each type must carry; `decode` checks these, the projector relies on them.
_REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    TRIGGER_OCCURRED: ("occurrence",),
    INSTANCE_STARTED: ("instance",),
    STAGE_STATUS: ("instanceID", "stage", "runID", "startedAt"),
    STAGE_HISTORY: ("instanceID", "stage", "name", "input", "startedAt", "terminated"),
    ACTIVITY_HISTORY: (
        "instanceID",
        "stage",
        "position",
        "name",
        "input",
        "startedAt",
        "terminated",
        "attempt",
    ),
    INSTANCE_TERMINATED: ("instanceID", "terminatedAt"),
}
TYPES: Final = frozenset(_REQUIRED)


class HistoryError(ValueError):
    """A history record that cannot be read (not JSON, unknown type, missing field)."""


class OccurrenceBody(TypedDict, total=False):
    id: str
    triggerID: str
    date: str
    event: dict[str, Any]
    workflowInstanceID: str
    error: str


class InstanceBody(TypedDict):
    id: str
    workflowID: str
    createdAt: str
    variables: dict[str, str]


class TriggerOccurred(TypedDict):
    """A trigger matched an event: the occurrence, and the instance it starts."""

    type: Literal["trigger.occurred"]
    id: str
    occurrence: OccurrenceBody
    instance: InstanceBody | None


class InstanceStarted(TypedDict):
    """The runtime applied a start: the instance row its stage rows refer to."""

    type: Literal["instance.started"]
    instance: InstanceBody


class StageStatus(TypedDict):
    type: Literal["stage.status"]
    instanceID: str
    stage: int
    runID: str
    startedAt: str
    terminatedAt: NotRequired[str]
    error: NotRequired[str]


class StageHistory(TypedDict):
    type: Literal["stage.history"]
    instanceID: str
    stage: int
    name: str
    input: dict[str, Any]
    startedAt: str
    terminated: bool
    terminatedAt: NotRequired[str]
    error: NotRequired[str]


class ActivityHistory(TypedDict):
    type: Literal["activity.history"]
    instanceID: str
    stage: int
    position: int
    name: str
    input: dict[str, Any]
    output: NotRequired[dict[str, Any]]
    error: NotRequired[str]
    terminated: bool
    startedAt: str
    terminatedAt: NotRequired[str]
    lastFailure: NotRequired[str]
    attempt: int
    nextExecution: NotRequired[str]
    # Set while the activity is on hold (pause mode, BEHAVIOUR 14.4).
    paused: NotRequired[bool]
    pausedAt: NotRequired[str]
    pauseReason: NotRequired[str]
    maxAttempts: NotRequired[int]
    lastFailureType: NotRequired[str]


class InstanceTerminated(TypedDict):
    type: Literal["instance.terminated"]
    instanceID: str
    terminatedAt: str
    error: NotRequired[str]


HistoryRecord = (
    TriggerOccurred
    | InstanceStarted
    | StageStatus
    | StageHistory
    | ActivityHistory
    | InstanceTerminated
)


def trigger_occurred(occurrence: OccurrenceBody, instance: InstanceBody | None) -> TriggerOccurred:
    return {
        "type": "trigger.occurred",
        "id": f"occurrence:{occurrence['id']}",
        "occurrence": occurrence,
        "instance": instance,
    }


def instance_started(instance: InstanceBody) -> InstanceStarted:
    return {"type": "instance.started", "instance": instance}


def encode(record: Mapping[str, Any]) -> bytes:
    return codec.dumps(record)


def decode(value: bytes | bytearray | memoryview | str | None) -> dict[str, Any]:
    """Read one history record; raises `HistoryError` naming what is wrong."""
    if value is None:
        raise HistoryError("empty history record")
    try:
        data = codec.loads(value)
    except codec.DecodeError as exc:
        raise HistoryError(f"history record is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HistoryError("history record is not a JSON object")
    kind = data.get("type")
    required = _REQUIRED.get(kind) if isinstance(kind, str) else None
    if required is None:
        raise HistoryError(f"unknown history record type {kind!r}")
    missing = [key for key in required if key not in data]
    if missing:
        raise HistoryError(f"history record {kind!r} lacks {', '.join(missing)}")
    return data
