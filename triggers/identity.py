"""Deterministic identities: the same event always yields the same ids.

Exactly-once occurrences come from these ids plus idempotent sinks, not from
the transport: a redelivered record, a replayed partition or a producer's
re-publish of the same event maps to the same occurrence and instance ids,
which the projector and the engine insert at most once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

# Fixed for the life of the service: changing it would re-fire every event.
_NAMESPACE = uuid.UUID("6f0b7a52-3d8e-4c1e-9a57-0f3c8e2d41b9").bytes

# Upstream fires a trigger at most once per payment / PSP account for these
# types (9.7); the object id, not the message, is the identity.
_PER_OBJECT_TYPES = frozenset({"SAVED_PAYMENT", "SAVED_ACCOUNT"})

WATERMILL_ID_HEADER = "_watermill_message_uuid"


def event_identity(idempotency_key: str, headers: Mapping[str, bytes] | None, raw: bytes) -> str:
    """Producer key if any, else the Watermill message id, else the bytes' hash."""
    if idempotency_key:
        return "key:" + idempotency_key
    if headers:
        message_id = headers.get(WATERMILL_ID_HEADER)
        if message_id:
            return "msg:" + message_id.decode("utf-8", "replace")
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def occurrence_id(trigger_id: str, event_type: str, payload: Any, identity: str) -> str:
    if event_type in _PER_OBJECT_TYPES:
        object_id = payload.get("id") if isinstance(payload, Mapping) else None
        basis = f"{trigger_id}|object|{object_id if isinstance(object_id, str) else ''}"
    else:
        basis = f"{trigger_id}|event|{identity}"
    return name_uuid(_NAMESPACE, basis)


def derived_id(parent: str, name: str) -> str:
    """The version-5 UUID of `name` under the UUID `parent` (a child id that
    repeats whenever its parent does)."""
    return name_uuid(uuid.UUID(parent).bytes, name)


def name_uuid(namespace: bytes, name: str) -> str:
    """`str(uuid.uuid5(UUID(bytes=namespace), name))` without the UUID objects:
    2.7 us instead of 7.4 (two per matched trigger)."""
    # SHA-1 is what RFC 4122 version 5 is defined with; an id, not a secret.
    sha1 = hashlib.sha1(namespace + name.encode(), usedforsecurity=False)
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def instance_id(occurrence: str) -> str:
    """Upstream shapes trigger-started instance ids `<uuid>_<n>`; clients treat them as opaque."""
    return f"{occurrence}_1"
