"""Payments activities (BEHAVIOUR 7.2, 6.4): GetPayment and CreateTransferInitiation (v1 API)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.activities._errors import ActivityFailure
from engine.activities._exchange import Send, need, segment
from streams import codec

_TRANSFERS = "/api/payments/transfer-initiations"
# Go's zero time.Time, what upstream sends as scheduledAt ("now").
_ZERO_DATE = "0001-01-01T00:00:00Z"


async def get_payment(send: Send, request: Mapping[str, Any]) -> dict[str, Any]:
    answer = await send("GET", f"/api/payments/payments/{segment(need(request, 'id'))}")
    return {"data": answer.field("data")}


def transfer_body(request: Mapping[str, Any]) -> dict[str, Any]:
    """The HTTP body of a transfer initiation (6.4) from its history input (7.2)."""
    provider = request.get("provider") or ""
    kind = request.get("type") or "TRANSFER"
    body: dict[str, Any] = {
        "amount": need(request, "amount", int),
        "asset": need(request, "asset"),
        "type": kind,
        "sourceAccountID": request.get("source") or "",
        "destinationAccountID": need(request, "destination"),
        "description": f"{provider} {kind}",
        "reference": need(request, "reference"),
        "validated": not request.get("waitingValidation", False),
        "scheduledAt": _ZERO_DATE,
    }
    if provider:
        body["provider"] = provider.upper()
    if request.get("connectorID"):
        body["connectorID"] = request["connectorID"]
    if request.get("metadata"):
        body["metadata"] = request["metadata"]
    return body


async def create_transfer_initiation(send: Send, request: Mapping[str, Any]) -> None:
    body = transfer_body(request)
    # The payments API takes no idempotency key; the reference (6.4) names the
    # transfer instead. Record-before-call: an earlier attempt whose answer was
    # lost may have created it, so look it up first and post only when it is
    # absent. One extra GET per transfer; a retry never pays a PSP twice.
    if await _transfer_exists(send, body["reference"]):
        return
    await send("POST", _TRANSFERS, body=body)


async def _transfer_exists(send: Send, reference: str) -> bool:
    # The v1 list endpoints take a JSON query-builder filter in `query`.
    query = codec.dumps({"$match": {"reference": reference}}).decode()
    answer = await send("GET", _TRANSFERS, params={"query": query})
    found = answer.field("cursor").get("data")
    if not isinstance(found, list):
        raise ActivityFailure(f"unexpected answer from GET {_TRANSFERS}: no cursor data")
    # Compared here too: a server that ignores the filter must not make an
    # unrelated transfer count as ours.
    return any(isinstance(t, dict) and t.get("reference") == reference for t in found)


async def stripe_transfer(send: Send, request: Mapping[str, Any]) -> None:
    raise ActivityFailure(
        "StripeTransfer is recognised in old histories only; "
        "new executions use CreateTransferInitiation",
        retryable=False,
    )
