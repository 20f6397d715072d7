"""Resume an activity held in pause mode (BEHAVIOUR 14.4).

The API checks the request against the projection (the 400/404/409 cases)
and writes an `instance.resume` command through the outbox; the engine's
state machine applies it only if the activity is still held since the
observed `pausedAt`, so a resume that races a second one, or a new hold,
is a no-op there.

Choices: there is one run per instance, so a `temporalRunID` other than the
stage's is an unknown run (404), never a stale one. An activity that is not
(or no longer) on hold, though not finished, answers 204 and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from api import store
from api.deps import services_of
from api.errors import conflict, not_found, validation
from api.routes.common import no_content
from engine import commands
from streams import codec

_NOT_FOUND = "activity or stage not found"
_CONFLICT = "activity cannot be resumed from the observed pause; refresh the instance"
_KEYS = frozenset({"temporalRunID", "pausedAt"})
_ZERO_TIME = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_MAX_STAGE = 2**31 - 1


def parse_stage(number: str) -> int:
    if not (number.isascii() and number.isdigit()) or int(number) > _MAX_STAGE:
        raise validation("stage number must be a nonnegative integer")
    return int(number)


def parse_body(body: bytes) -> tuple[str, dt.datetime]:
    """(temporalRunID, pausedAt) of a resume body, or the spec's 400."""
    try:
        value: Any = codec.loads(body)
    except codec.DecodeError as exc:
        if "unexpected content after document" in str(exc):
            raise validation("body must contain exactly one JSON object") from None
        value = None
    if not isinstance(value, dict) or not set(value) <= _KEYS:
        raise validation("body must be a JSON object containing temporalRunID and pausedAt")
    run_id, paused_at = value.get("temporalRunID", ""), value.get("pausedAt", "")
    if not isinstance(run_id, str) or not run_id.strip():
        raise validation("temporalRunID must not be empty")
    at = _rfc3339(paused_at)
    if at is None or at == _ZERO_TIME:
        raise validation("pausedAt must be a nonzero RFC3339 timestamp")
    return run_id, at


def _rfc3339(value: Any) -> dt.datetime | None:
    # RFC 3339: a full date, a "T", a time and an offset (Z or +hh:mm).
    if not isinstance(value, str) or len(value) < 20 or value[10] not in "Tt":
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _position(activity_id: str, instance_id: str, stage: int) -> int | None:
    """The position in an engine activity id `<instance>:<stage>:<position>`."""
    prefix = f"{instance_id}:{stage}:"
    tail = activity_id[len(prefix) :]
    if not activity_id.startswith(prefix) or not (tail.isascii() and tail.isdigit()):
        return None
    return int(tail)


def build_router(prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix)

    @router.post("/instances/{instance_id}/stages/{number}/activities/{activity_id}/resume")
    async def resume(instance_id: str, number: str, activity_id: str, request: Request) -> Response:
        services = services_of(request)
        stage = parse_stage(number)
        if not activity_id.strip():
            raise validation("activityID must not be empty")
        run_id, paused_at = parse_body(await request.body())
        async with services.db.begin() as conn:
            instance = await store.get_instance_row(conn, instance_id)
            if instance is None:
                raise not_found("Instance not found")
            status = await store.lock_stage_status(conn, instance_id, stage)
            position = _position(activity_id, instance_id, stage)
            if status is None or position is None or status["temporal_run_id"] != run_id:
                raise not_found(_NOT_FOUND)
            if instance["terminated"] or status["terminated_at"] is not None:
                raise conflict(_CONFLICT)
            activity = await store.get_activity(conn, instance_id, stage, position)
            if activity is None or activity["terminated"]:
                raise not_found(_NOT_FOUND)
            if activity["paused_at"] is None:
                return no_content()  # not on hold (any more): nothing to release
            if activity["paused_at"] != paused_at:
                raise conflict(_CONFLICT)  # held again since it was observed
            command = commands.ResumeActivity(
                id=str(uuid.uuid4()),
                instance_id=instance_id,
                activity_id=activity_id,
                paused_at=paused_at.isoformat(),
            )
            await store.send_command(conn, command, topic=services.topics.commands)
        services.published()
        return no_content()

    return router
