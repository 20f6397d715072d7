"""Definition records on the compacted definitions topic.

Key `workflow:<id>` carries the workflow (with `deletedAt` once soft-deleted,
so running instances keep their config); key `trigger:<id>` carries the
trigger, and a tombstone (null value) once it is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams import codec
from triggers import Trigger


@dataclass(frozen=True, slots=True)
class WorkflowDefinition:
    id: str
    config: dict[str, Any]
    created_at: str
    deleted_at: str | None = None


Definition = WorkflowDefinition | Trigger


def workflow_record(workflow: WorkflowDefinition) -> tuple[bytes, bytes]:
    value = {
        "id": workflow.id,
        "config": workflow.config,
        "createdAt": workflow.created_at,
        "deletedAt": workflow.deleted_at,
    }
    return f"workflow:{workflow.id}".encode(), codec.dumps(value)


def trigger_record(trigger: Trigger) -> tuple[bytes, bytes]:
    return f"trigger:{trigger.id}".encode(), codec.dumps(trigger.to_wire())


def trigger_tombstone(trigger_id: str) -> tuple[bytes, None]:
    return f"trigger:{trigger_id}".encode(), None


def decode_definition(key: bytes, value: bytes | None) -> tuple[str, str, Definition | None]:
    """(kind, id, definition or None for a tombstone); ValueError if unreadable."""
    kind, sep, ident = key.decode().partition(":")
    if not sep or kind not in ("workflow", "trigger"):
        raise ValueError(f"unknown definition key {key!r}")
    if value is None:
        return kind, ident, None
    data = codec.loads(value)
    if not isinstance(data, dict):
        raise ValueError(f"definition {key!r} is not a JSON object")
    if kind == "trigger":
        return kind, ident, Trigger.from_wire(data)
    return (
        kind,
        ident,
        WorkflowDefinition(
            id=data["id"],
            config=data["config"],
            created_at=data["createdAt"],
            deleted_at=data.get("deletedAt"),
        ),
    )
