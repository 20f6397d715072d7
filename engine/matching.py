"""From one inbound record to the history records it produces.

Pure: the worker's match loop (`engine.worker`) feeds records in and sends
what comes out. Bad input never raises: it becomes a dead-letter output.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.commands import StartInstance
from engine.definitions import WorkflowDefinition
from engine.events import PublicEvent, occurrence_events
from engine.history import InstanceBody, OccurrenceBody, trigger_occurred
from streams import MalformedEvent, codec, decode_envelope, format_time
from triggers import (
    FilterFailure,
    TriggerIndex,
    derived_id,
    evaluate,
    event_identity,
    expr,
    instance_id,
    occurrence_id,
)
from triggers.expr import Fetch


@dataclass(frozen=True, slots=True)
class Output:
    """One record to produce: to the history topic, or the dead-letter topic."""

    dead_letter: bool
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(slots=True)
class MatchResult:
    outputs: list[Output] = field(default_factory=list)
    filter_errors: list[FilterFailure] = field(default_factory=list)
    dead_letter_reason: str | None = None
    # `oversized`, or the `MalformedEvent.kind`: a bounded label for metrics.
    dead_letter_kind: str | None = None
    # Triggers that matched but whose vars failed (their occurrence has the error).
    vars_errors: list[str] = field(default_factory=list)
    # (trigger id, occurrence id) of every occurrence, in output order.
    occurrences: list[tuple[str, str]] = field(default_factory=list)

    @property
    def matched(self) -> int:
        """How many triggers matched (one occurrence each)."""
        return len(self.occurrences)

    # One start command per occurrence that created an instance.
    starts: list[StartInstance] = field(default_factory=list)
    # FAILED_TRIGGER per failed occurrence (a started one is announced by its instance).
    events: list[PublicEvent] = field(default_factory=list)


# The rejected record's own headers ride along under this prefix, so that
# `orchestration dead-letters replay` can restore them: a Watermill message id
# header is part of an event's identity, and a replay marker names its origin.
ORIGINAL_HEADER_PREFIX = "original."


def dead_letter(
    raw: bytes | None,
    reason: str,
    coordinates: str,
    headers: Mapping[str, bytes] | None = None,
) -> Output:
    kept = tuple((ORIGINAL_HEADER_PREFIX + k, v) for k, v in (headers or {}).items())
    return Output(
        dead_letter=True,
        key=coordinates.encode(),
        value=raw or b"",
        headers=(("reason", reason.encode()), ("source", coordinates.encode()), *kept),
    )


def match_record(
    raw: bytes | None,
    headers: Mapping[str, bytes] | None,
    index: TriggerIndex,
    *,
    coordinates: str,
    max_bytes: int,
    now: dt.datetime | None = None,
    fetch: Fetch | None = None,
    max_record_bytes: int = 2 * 1_048_576,
    workflows: Mapping[str, WorkflowDefinition] | None = None,
) -> MatchResult:
    """Match one record against the index.

    `coordinates` (topic/partition/offset) label dead letters and logs.
    `max_record_bytes` bounds one history record (what the producer may
    send): an occurrence whose variables would exceed it is recorded with an
    error and starts nothing, instead of a send that fails, and keeps failing.
    `workflows` (by id) gives the configuration each started instance runs
    on; without it occurrences are recorded and start nothing.
    """
    result = MatchResult()
    if raw is not None and len(raw) > max_bytes:
        reason = f"event of {len(raw)} bytes exceeds the {max_bytes}-byte limit"
        result.dead_letter_reason = reason
        result.dead_letter_kind = "oversized"
        result.outputs.append(dead_letter(raw, reason, coordinates, headers))
        return result
    try:
        envelope = decode_envelope(raw)
    except MalformedEvent as exc:
        result.dead_letter_reason = exc.reason
        result.dead_letter_kind = exc.kind
        result.outputs.append(dead_letter(raw, exc.reason, coordinates, headers))
        return result

    # Only the triggers the equality index cannot rule out for this payload.
    candidates = index.select(envelope.type, envelope.version, envelope.payload)
    if not candidates:
        return result

    assert raw is not None  # decode_envelope rejected empty values
    # Expressions see Go's view of the payload (every JSON number a float64):
    # a second decode, paid only when some candidate has an expression.
    needs_env = any(c.filter is not None or c.vars for c in candidates)
    exact = expr.ExactInts()
    env = {"event": expr.decode_event(raw, exact)["payload"]} if needs_env else {}
    identity = event_identity(envelope.idempotency_key, headers, raw)
    date = format_time(now or dt.datetime.now(dt.UTC))
    event = envelope.to_dict()
    for candidate in candidates:
        outcome = evaluate(candidate, env, fetch, exact)
        if outcome is None:
            continue
        if isinstance(outcome, FilterFailure):
            result.filter_errors.append(outcome)
            continue
        trigger = candidate.trigger
        occ_id = occurrence_id(trigger.id, envelope.type, envelope.payload, identity)
        occurrence: OccurrenceBody = {
            "id": occ_id,
            "triggerID": trigger.id,
            "date": date,
            "event": event,
        }
        instance: InstanceBody | None = None
        if outcome.error is not None:
            occurrence["error"] = outcome.error
            result.vars_errors.append(trigger.id)
            key = occ_id
        else:
            key = instance_id(occ_id)
            occurrence["workflowInstanceID"] = key
            instance = {
                "id": key,
                "workflowID": trigger.workflow_id,
                "createdAt": date,
                "variables": outcome.variables or {},
            }
        value = codec.dumps(trigger_occurred(occurrence, instance))
        if len(value) > max_record_bytes:
            # The event alone fits (it is bounded by max_bytes, well below).
            occurrence.pop("workflowInstanceID", None)
            occurrence["error"] = (
                f"occurrence of {len(value)} bytes exceeds the {max_record_bytes}-byte "
                "record limit (its variables are too large)"
            )
            key = occ_id
            value = codec.dumps(trigger_occurred(occurrence, None))
            instance = None
        workflow = None if workflows is None else workflows.get(trigger.workflow_id)
        if instance is not None and workflow is not None:
            result.starts.append(start_command(occ_id, instance, workflow, trigger.id))
        result.events.extend(occurrence_events(occurrence))
        result.outputs.append(Output(dead_letter=False, key=key.encode(), value=value))
        result.occurrences.append((trigger.id, occ_id))
    return result


def start_command(
    occurrence: str, instance: InstanceBody, workflow: WorkflowDefinition, trigger_id: str = ""
) -> StartInstance:
    """The command that runs a triggered instance; its id (the run id) derives from
    the occurrence, so a re-matched event sends the same command again and the
    runtime rejects the second one."""
    return StartInstance(
        id=derived_id(occurrence, "start"),
        instance_id=instance["id"],
        workflow_id=instance["workflowID"],
        config=workflow.config,
        variables=instance["variables"],
        created_at=instance["createdAt"],
        occurrence_id=occurrence,
        trigger_id=trigger_id,
    )


def match_records(
    records: Iterable[Any],
    index: TriggerIndex,
    *,
    max_bytes: int,
    max_record_bytes: int,
    fetch: Fetch | None = None,
    workflows: Mapping[str, WorkflowDefinition] | None = None,
) -> list[tuple[str, MatchResult]]:
    """`match_record` over consumed Kafka records (anything with `topic`,
    `partition`, `offset`, `value`, `headers`), each with its coordinates."""
    results = []
    for record in records:
        coordinates = f"{record.topic}/{record.partition}/{record.offset}"
        result = match_record(
            record.value,
            decode_headers(record.headers),
            index,
            coordinates=coordinates,
            max_bytes=max_bytes,
            fetch=fetch,
            max_record_bytes=max_record_bytes,
            workflows=workflows,
        )
        results.append((coordinates, result))
    return results


def decode_headers(headers: Any) -> dict[str, bytes]:
    """Kafka clients hand headers as a sequence of pairs or a mapping; normalise them."""
    if not headers:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k): (v if isinstance(v, bytes) else str(v).encode()) for k, v in items}
