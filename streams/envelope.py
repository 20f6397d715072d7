"""The Formance event envelope, as consumed from and published to the bus.

`{"idempotency_key", "date", "app", "version", "type", "payload"}`; extra
keys are dropped, and an occurrence stores exactly these six.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from dataclasses import dataclass
from typing import Any

from streams import codec


class MalformedEvent(ValueError):
    """The record is not a usable envelope; `reason` says why (for the dead-letter
    topic), `kind` which of a few ways it failed (a bounded metrics label)."""

    def __init__(self, reason: str, kind: str = "not_envelope") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Envelope:
    type: str
    payload: Any
    date: str = ""
    app: str = ""
    version: str = ""
    idempotency_key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key,
            "date": self.date,
            "app": self.app,
            "version": self.version,
            "type": self.type,
            "payload": self.payload,
        }

    def encode(self) -> bytes:
        return codec.dumps(self.to_dict())


def _text(obj: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise MalformedEvent(f"envelope has no '{key}'")
        return ""
    if not isinstance(value, str):
        raise MalformedEvent(f"envelope '{key}' is {type(value).__name__}, not a string")
    return value


def decode_envelope(raw: bytes | None) -> Envelope:
    """Parse one record value; integers stay exact (ledger amounts exceed 2**64)."""
    if not raw:
        raise MalformedEvent("empty record value", "empty")
    try:
        obj = codec.loads(raw)
    except ValueError as exc:
        raise MalformedEvent(f"not JSON: {exc}", "not_json") from None
    if not isinstance(obj, dict):
        raise MalformedEvent(f"envelope is a JSON {type(obj).__name__}, not an object")
    event_type = _text(obj, "type", required=True)
    if not event_type:
        raise MalformedEvent("envelope 'type' is empty")
    if "payload" not in obj:
        raise MalformedEvent("envelope has no 'payload'")
    return Envelope(
        type=event_type,
        payload=obj["payload"],
        date=_text(obj, "date"),
        app=_text(obj, "app"),
        version=_text(obj, "version"),
        idempotency_key=_text(obj, "idempotency_key"),
    )


def new_envelope(
    event_type: str, payload: Any, *, app: str = "orchestration", now_ns: int | None = None
) -> Envelope:
    """An envelope for an event this service publishes (10.1: version v2), dated
    `now_ns` (nanoseconds since the epoch; default: now) to the nanosecond."""
    date = format_time_ns(time.time_ns() if now_ns is None else now_ns)
    return Envelope(type=event_type, payload=payload, date=date, app=app, version="v2")


def format_time_ns(epoch_ns: int) -> str:
    """RFC 3339 in UTC to the nanosecond, trailing zeros dropped (Go's RFC3339Nano)."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    text = _whole_seconds(seconds)
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with Go's trailing-zero-free fraction (`...30.1234Z`)."""
    # isoformat: 1.3 us where strftime took 2.5 (every occurrence is dated).
    value = value.astimezone(dt.UTC)
    text = value.isoformat()[:-6]  # without "+00:00"
    if value.microsecond:
        text = text.rstrip("0")
    return text + "Z"


# The whole-second part of the public events' dates: the records of one
# batch share a handful of seconds, so the formatting is mostly a cache hit.
@functools.lru_cache(maxsize=16)
def _whole_seconds(epoch_s: int) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat()[:-6]
