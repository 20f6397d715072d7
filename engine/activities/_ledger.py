"""Ledger activities (BEHAVIOUR 7.2).

GetAccount (ledger v1 API), AddAccountMetadata and CreateTransaction (v2 API).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.activities._exchange import RequestError, Send, need, segment

_TX_FIELDS = ("postings", "script", "reference", "metadata", "timestamp")


async def get_account(send: Send, request: Mapping[str, Any]) -> dict[str, Any]:
    ledger, address = need(request, "ledger"), need(request, "id")
    answer = await send("GET", f"/api/ledger/{segment(ledger)}/accounts/{segment(address)}")
    account = answer.field("data")
    # The four fields of the v1 AccountWithVolumesAndBalances, as upstream
    # re-encodes them; a v1 ledger answers an unknown account with empty maps.
    return {
        "data": {
            "address": account.get("address", address),
            "metadata": account.get("metadata") or {},
            "volumes": account.get("volumes") or {},
            "balances": account.get("balances") or {},
        }
    }


async def add_account_metadata(send: Send, request: Mapping[str, Any]) -> None:
    ledger, address = need(request, "ledger"), need(request, "account")
    metadata = need(request, "metadata", dict)
    path = f"/api/ledger/v2/{segment(ledger)}/accounts/{segment(address)}/metadata"
    await send("POST", path, body=metadata)


async def create_transaction(send: Send, request: Mapping[str, Any]) -> dict[str, Any]:
    # Upstream's capitalised keys (7.2); the OpenAPI's lower-case ones (7.3) parse too.
    ledger = need(request, "Ledger" if "Ledger" in request else "ledger")
    data = need(request, "Data" if "Data" in request else "data", dict)
    # Unset and empty fields are left out, as upstream's omitempty fields are.
    body = {k: data[k] for k in _TX_FIELDS if data.get(k) not in (None, "", [], {})}
    if "postings" not in body and "script" not in body:
        raise RequestError("a transaction needs postings or a script")
    answer = await send("POST", f"/api/ledger/v2/{segment(ledger)}/transactions", body=body)
    tx = answer.field("data")
    # Upstream rewrites the v2 answer into the v1 list form: one-element
    # `data`, `txid` equal to `id` (7.2).
    out: dict[str, Any] = {
        "id": tx.get("id"),
        "txid": tx.get("id"),
        "postings": tx.get("postings") or [],
        "metadata": tx.get("metadata") or {},
    }
    if tx.get("reference"):
        out["reference"] = tx["reference"]
    out["reverted"] = bool(tx.get("reverted", False))
    out["timestamp"] = tx.get("timestamp")
    return {"data": [out]}
