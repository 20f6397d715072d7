"""The lifecycle events the service publishes on the `orchestration` topic (BEHAVIOUR 10).

Pure: from what the runtime already knows (the history records of one
instance step, the occurrence a match produced) to the public events they
imply; the worker sends them in the same acknowledged batch as the history.

| type | comes from |
|---|---|
| `STARTED_WORKFLOW` | the step that started the instance |
| `SUCCEEDED_TRIGGER` | that step, when an occurrence started it |
| `STARTED_WORKFLOW_STAGE` | a `stage.status` without `terminatedAt` |
| `SUCCEEDED_WORKFLOW_STAGE` | a `stage.status` with `terminatedAt`, no error |
| `FAILED_WORKFLOW_STAGE` | a `stage.status` with `terminatedAt` and an error |
| `SUCCEEDED_WORKFLOW` | `instance.terminated` without error |
| `FAILED_WORKFLOW` | `instance.terminated` with an error |
| `FAILED_TRIGGER` | an occurrence with an error (its vars failed) |

Payloads are 10.2's; `id` is the workflow definition id in workflow events,
the occurrence id in trigger events. An aborted instance fails: its stage and
the instance end with the error `canceled` (FAILED_WORKFLOW_STAGE,
FAILED_WORKFLOW), as the history shows them. STARTED_WORKFLOW comes from the start step rather than
from stage 0's first status, so a workflow without stages still reports
STARTED_WORKFLOW then SUCCEEDED_WORKFLOW.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from engine import history
from engine.history import OccurrenceBody
from streams.envelope import new_envelope

STARTED_WORKFLOW: Final = "STARTED_WORKFLOW"
STARTED_WORKFLOW_STAGE: Final = "STARTED_WORKFLOW_STAGE"
SUCCEEDED_WORKFLOW_STAGE: Final = "SUCCEEDED_WORKFLOW_STAGE"
FAILED_WORKFLOW_STAGE: Final = "FAILED_WORKFLOW_STAGE"
SUCCEEDED_WORKFLOW: Final = "SUCCEEDED_WORKFLOW"
FAILED_WORKFLOW: Final = "FAILED_WORKFLOW"
SUCCEEDED_TRIGGER: Final = "SUCCEEDED_TRIGGER"
FAILED_TRIGGER: Final = "FAILED_TRIGGER"


@dataclass(frozen=True, slots=True)
class PublicEvent:
    """One event for the `orchestration` topic, keyed by `key` (the instance id,
    or the occurrence id of a failed occurrence), so one instance's events keep
    their order on one partition."""

    key: str
    type: str
    payload: dict[str, Any]

    def encode(self, now_ns: int) -> bytes:
        """The envelope (10.1), dated `now_ns`: the publish time."""
        return new_envelope(self.type, self.payload, now_ns=now_ns).encode()


@dataclass(frozen=True, slots=True)
class Started:
    """The step started the instance; the occurrence and trigger when one started it."""

    occurrence_id: str = ""
    trigger_id: str = ""


def instance_events(
    instance_id: str,
    workflow_id: str,
    records: Iterable[Mapping[str, Any]],
    *,
    started: Started | None = None,
) -> list[PublicEvent]:
    """The events one step of an instance implies, in order: its history `records`
    (as `engine.history` defines them), preceded by STARTED_WORKFLOW (and
    SUCCEEDED_TRIGGER) when the step `started` it."""
    base: dict[str, Any] = {"id": workflow_id, "instanceID": instance_id}
    out: list[PublicEvent] = []
    if started is not None:
        out.append(PublicEvent(instance_id, STARTED_WORKFLOW, dict(base)))
        if started.occurrence_id:
            out.append(succeeded_trigger(started.occurrence_id, started.trigger_id, instance_id))
    for record in records:
        kind = record.get("type")
        error = record.get("error")
        if kind == history.STAGE_STATUS:
            number = {"number": int(record["stage"])}
            if "terminatedAt" not in record:
                out.append(PublicEvent(instance_id, STARTED_WORKFLOW_STAGE, base | number))
            elif error:
                failed = base | number | {"error": str(error)}
                out.append(PublicEvent(instance_id, FAILED_WORKFLOW_STAGE, failed))
            else:
                out.append(PublicEvent(instance_id, SUCCEEDED_WORKFLOW_STAGE, base | number))
        elif kind == history.INSTANCE_TERMINATED:
            if error:
                failed = base | {"error": str(error)}
                out.append(PublicEvent(instance_id, FAILED_WORKFLOW, failed))
            else:
                out.append(PublicEvent(instance_id, SUCCEEDED_WORKFLOW, dict(base)))
    return out


def succeeded_trigger(occurrence_id: str, trigger_id: str, instance_id: str) -> PublicEvent:
    payload = {"id": occurrence_id, "triggerID": trigger_id, "workflowInstanceID": instance_id}
    return PublicEvent(instance_id, SUCCEEDED_TRIGGER, payload)


def occurrence_events(occurrence: OccurrenceBody) -> list[PublicEvent]:
    """FAILED_TRIGGER for an occurrence that failed (it starts no instance); none
    for one that starts an instance: its SUCCEEDED_TRIGGER follows the
    instance's STARTED_WORKFLOW (10.2), so the instance's first step sends it."""
    error = occurrence.get("error")
    if not error:
        return []
    payload = {"id": occurrence["id"], "triggerID": occurrence["triggerID"], "error": error}
    return [PublicEvent(occurrence["id"], FAILED_TRIGGER, payload)]
