"""Idempotency keys of the mutating ledger and wallets calls (BEHAVIOUR 7.1, 8.8).

Format: ``<stack>:<instance id>:<stage>:<sequence>``, e.g.
``prod-eu:0b6c1f9e-7a52-4c1e-9d0e-5f3a2b1c4d6e:2:1`` -- stage number and the
activity's position within the stage, both as the state machine counts them.

* Stable: made only of values stored with the instance, so a retry, a worker
  restart or a replay after kill -9 sends the same key and the ledger (or the
  wallets service, which forwards it to the ledger) applies the call once.
* Unique: the stack name separates stacks that share a ledger; the instance
  id separates instances (a new run of a workflow is a new instance, so it
  gets new keys, as upstream's run-id based keys do).
* Readable on purpose: the ledger keeps the key in its log (``idempotencyKey``
  in ``GET /v2/{ledger}/logs``), which then names the instance and stage that
  posted each transaction.

When a part holds anything but ``[A-Za-z0-9._-]`` (a ``:`` would make two
different tuples print the same) or the key would exceed 128 characters, the
key is ``sha256:`` + the hex digest of the tuple as a JSON array (71
characters): unambiguous and bounded, since stack names and instance ids come
from configuration and requests we do not control. 128 is far below the
header limits of proxies (8 KiB) and of the ledger's key column.
"""

from __future__ import annotations

import hashlib
import re

from streams import codec

_PLAIN = re.compile(r"[A-Za-z0-9._-]*")
_MAX_PLAIN = 128


def idempotency_key(stack: str, instance_id: str, stage: int, sequence: int) -> str:
    """The key of activity ``sequence`` of stage ``stage`` of an instance."""
    if stage < 0 or sequence < 0:
        raise ValueError(f"stage and sequence must be >= 0, got {stage} and {sequence}")
    plain = f"{stack}:{instance_id}:{stage}:{sequence}"
    if len(plain) <= _MAX_PLAIN and _PLAIN.fullmatch(stack) and _PLAIN.fullmatch(instance_id):
        return plain
    digest = hashlib.sha256(codec.dumps([stack, instance_id, stage, sequence])).hexdigest()
    return f"sha256:{digest}"
