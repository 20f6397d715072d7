"""The sandbox's payments (v1 API shapes): payments seeded by tests, transfer initiations.

A transfer initiation's ``reference`` is unique, which is what the engine's
record-before-call relies on. Nothing moves money: the sandbox has no PSP.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from compose.sandbox.events import Sink, saved_payment
from compose.sandbox.ledger import SandboxError

_PAYMENT_TYPES = ("PAY-IN", "PAYOUT", "TRANSFER", "OTHER")
_TRANSFER_TYPES = ("TRANSFER", "PAYOUT")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _amount(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SandboxError(400, "VALIDATION", f"{name} must be a non-negative integer")
    return value


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or (required and not value):
        raise SandboxError(400, "VALIDATION", f"{name} must be a non-empty string")
    return value


class Payments:
    def __init__(self, sink: Sink | None = None) -> None:
        self._sink = sink
        self._payments: dict[str, dict[str, Any]] = {}
        self._transfers: dict[str, dict[str, Any]] = {}

    def create_payment(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise SandboxError(400, "VALIDATION", "expected a JSON object")
        kind = body.get("type", "PAY-IN")
        if kind not in _PAYMENT_TYPES:
            raise SandboxError(400, "VALIDATION", f"invalid payment type {kind!r}")
        amount = _amount(body, "amount")
        payment = {
            "id": _text(body, "id") or str(uuid.uuid4()),
            "reference": _text(body, "reference", required=True),
            "connectorID": _text(body, "connectorID"),
            "provider": _text(body, "provider"),
            "type": kind,
            "status": _text(body, "status") or "SUCCEEDED",
            "scheme": _text(body, "scheme") or "other",
            "asset": _text(body, "asset", required=True),
            "initialAmount": amount,
            "amount": amount,
            "sourceAccountID": _text(body, "sourceAccountID"),
            "destinationAccountID": _text(body, "destinationAccountID"),
            "createdAt": _text(body, "createdAt") or _now(),
            "raw": body.get("raw") or {},
            "adjustments": [],
            "metadata": body.get("metadata") or {},
        }
        if payment["id"] in self._payments:
            raise SandboxError(409, "CONFLICT", f"payment {payment['id']} already exists")
        self._payments[payment["id"]] = payment
        if self._sink is not None:
            self._sink(saved_payment(payment))
        return payment

    def payment(self, payment_id: str) -> dict[str, Any]:
        found = self._payments.get(payment_id)
        if found is None:
            raise SandboxError(404, "NOT_FOUND", f"payment {payment_id} not found")
        return found

    def create_transfer(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise SandboxError(400, "VALIDATION", "expected a JSON object")
        reference = _text(body, "reference", required=True)
        if any(t["reference"] == reference for t in self._transfers.values()):
            raise SandboxError(409, "CONFLICT", f"reference {reference!r} already used")
        kind = body.get("type", "TRANSFER")
        if kind not in _TRANSFER_TYPES:
            raise SandboxError(400, "VALIDATION", f"invalid transfer type {kind!r}")
        amount = _amount(body, "amount")
        now = _now()
        transfer = {
            "id": str(uuid.uuid4()),
            "reference": reference,
            "createdAt": now,
            "updatedAt": now,
            "scheduledAt": _text(body, "scheduledAt"),
            "description": _text(body, "description"),
            "sourceAccountID": _text(body, "sourceAccountID"),
            "destinationAccountID": _text(body, "destinationAccountID", required=True),
            "connectorID": _text(body, "connectorID"),
            "provider": _text(body, "provider"),
            "type": kind,
            "amount": amount,
            "initialAmount": amount,
            "asset": _text(body, "asset", required=True),
            # Unvalidated transfers wait for someone to validate them; the
            # sandbox has no PSP, so a validated one stays PROCESSING.
            "status": "PROCESSING" if body.get("validated") else "WAITING_FOR_VALIDATION",
            "error": "",
            "metadata": body.get("metadata") or {},
            "relatedPayments": [],
        }
        self._transfers[transfer["id"]] = transfer
        return transfer

    def transfer(self, transfer_id: str) -> dict[str, Any]:
        found = self._transfers.get(transfer_id)
        if found is None:
            raise SandboxError(404, "NOT_FOUND", f"transfer initiation {transfer_id} not found")
        return found

    def transfers(self, match: dict[str, Any]) -> list[dict[str, Any]]:
        """The transfers whose fields equal every ``match`` entry (the v1 ``$match``)."""
        return [t for t in self._transfers.values() if all(t.get(k) == v for k, v in match.items())]
