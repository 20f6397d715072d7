"""The events the sandbox's ledgers and payments publish (BEHAVIOUR 11.1, 13.2, 13.5).

Built after the state change they describe, in the Formance envelope; pure, no
I/O (``publisher`` sends them). The ledger's are v2 events without an
``idempotency_key`` (the ledger sets none); payments' are v1 events, the
generation of the payments v1 API the sandbox serves: amounts are JSON
integers, ``connectorId``/``sourceAccountId``/``destinationAccountId``
spelled with a lower-case ``d``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from streams import codec

Service = Literal["ledger", "payments"]
Volumes = Mapping[str, Mapping[str, tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class Event:
    """One envelope, and the service whose topic it goes to."""

    service: Service
    envelope: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.envelope["type"])

    def encode(self) -> bytes:
        return codec.dumps(self.envelope)


Sink = Callable[[Event], None]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _envelope(app: str, version: str, kind: str, payload: Any) -> dict[str, Any]:
    return {"date": _now(), "app": app, "version": version, "type": kind, "payload": payload}


def _volumes(volumes: Volumes) -> dict[str, dict[str, dict[str, int]]]:
    return {
        address: {
            asset: {"input": i, "output": o, "balance": i - o} for asset, (i, o) in assets.items()
        }
        for address, assets in volumes.items()
    }


def committed_transactions(
    ledger: str, tx: Mapping[str, Any], pre: Volumes, post: Volumes
) -> Event:
    """``COMMITTED_TRANSACTIONS`` of one transaction, with the volumes of the
    accounts it touched before and after (effective volumes are the same: the
    sandbox has no past-dated transactions)."""
    before, after = _volumes(pre), _volumes(post)
    transaction = {
        **tx,
        "updatedAt": tx["insertedAt"],
        "postCommitVolumes": after,
        "postCommitEffectiveVolumes": after,
        "preCommitVolumes": before,
        "preCommitEffectiveVolumes": before,
    }
    payload = {"ledger": ledger, "transactions": [transaction], "accountMetadata": {}}
    return Event("ledger", _envelope("ledger", "v2", "COMMITTED_TRANSACTIONS", payload))


def saved_metadata(ledger: str, address: str, metadata: Mapping[str, str]) -> Event:
    payload = {
        "ledger": ledger,
        "targetType": "ACCOUNT",
        "targetId": address,
        "metadata": dict(metadata),
    }
    return Event("ledger", _envelope("ledger", "v2", "SAVED_METADATA", payload))


# The payments v1 API's field names -> the v1 event's.
_PAYMENT_FIELDS = {
    "id": "id",
    "reference": "reference",
    "createdAt": "createdAt",
    "connectorID": "connectorId",
    "provider": "provider",
    "type": "type",
    "status": "status",
    "scheme": "scheme",
    "asset": "asset",
    "sourceAccountID": "sourceAccountId",
    "destinationAccountID": "destinationAccountId",
    "raw": "rawData",
    "initialAmount": "initialAmount",
    "amount": "amount",
    "metadata": "metadata",
}


def saved_payment(payment: Mapping[str, Any]) -> Event:
    payload = {name: payment[key] for key, name in _PAYMENT_FIELDS.items() if key in payment}
    # As the service does, account ids are left out when the payment has none.
    for name in ("sourceAccountId", "destinationAccountId"):
        if not payload.get(name):
            payload.pop(name, None)
    return Event("payments", _envelope("payments", "v1", "SAVED_PAYMENT", payload))
