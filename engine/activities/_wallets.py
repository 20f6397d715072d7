"""Wallets activities (BEHAVIOUR 7.2).

GetWallet, ListWallets, CreditWallet, DebitWallet, ConfirmHold, VoidHold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.activities._exchange import Send, need, segment, without

# Keys 7.2 lists as "omitted when unset"; `metadata` and `sources` are always
# sent, null included, as upstream's non-omitempty fields are.
_CREDIT_OPTIONAL = ("balance", "reference", "timestamp")
_DEBIT_OPTIONAL = ("balances", "description", "destination", "pending", "timestamp")


async def get_wallet(send: Send, request: Mapping[str, Any]) -> dict[str, Any]:
    answer = await send("GET", f"/api/wallets/wallets/{segment(need(request, 'id'))}")
    return {"data": answer.field("data")}


async def list_wallets(send: Send, request: Mapping[str, Any]) -> dict[str, Any]:
    answer = await send("GET", "/api/wallets/wallets", params={"name": need(request, "name")})
    return {"cursor": answer.field("cursor")}


async def credit_wallet(send: Send, request: Mapping[str, Any]) -> None:
    wallet, data = need(request, "id"), need(request, "data", dict)
    path = f"/api/wallets/wallets/{segment(wallet)}/credit"
    await send("POST", path, body=without(data, _CREDIT_OPTIONAL))


async def debit_wallet(send: Send, request: Mapping[str, Any]) -> dict[str, Any] | None:
    wallet, data = need(request, "id"), need(request, "data", dict)
    path = f"/api/wallets/wallets/{segment(wallet)}/debit"
    answer = await send("POST", path, body=without(data, _DEBIT_OPTIONAL))
    # 204 without a body for an immediate debit; a hold (201) only for the
    # pending debits no stage asks for. An empty answer has no output (7.2:
    # upstream's attempt to decode it is a defect).
    if answer.data is None:
        return None
    return {"data": answer.field("data")}


async def confirm_hold(send: Send, request: Mapping[str, Any]) -> None:
    await send("POST", f"/api/wallets/holds/{segment(need(request, 'id'))}/confirm")


async def void_hold(send: Send, request: Mapping[str, Any]) -> None:
    await send("POST", f"/api/wallets/holds/{segment(need(request, 'id'))}/void")
