"""Records on the history topic, keyed by instance id.

Every record has a deterministic `id`, so the projector can upsert them and
rebuilding Postgres from the topic gives the same rows.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict


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


def trigger_occurred(occurrence: OccurrenceBody, instance: InstanceBody | None) -> TriggerOccurred:
    return {
        "type": "trigger.occurred",
        "id": f"occurrence:{occurrence['id']}",
        "occurrence": occurrence,
        "instance": instance,
    }
