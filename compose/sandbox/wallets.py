"""The sandbox's wallets: a layer over one sandbox ledger, as the wallets service is.

A wallet's balances are ledger accounts ``wallets:<id>:<balance>`` (``main``
always exists) and a hold is ``wallets:<id>:hold:<hold id>``; the wallet's
name and metadata live in the main account's metadata. Every movement is a
ledger transaction, so a wallet-to-account send shows on both sides. No I/O.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from compose.sandbox.ledger import WORLD, Ledger, SandboxError

MAIN = "main"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def balance_account(wallet: str, balance: str) -> str:
    return f"wallets:{wallet}:{balance}"


def hold_account(wallet: str, hold: str) -> str:
    return f"wallets:{wallet}:hold:{hold}"


@dataclass
class _Wallet:
    id: str
    name: str
    metadata: dict[str, str]
    created_at: str
    balances: list[str] = field(default_factory=lambda: [MAIN])


@dataclass
class _Hold:
    id: str
    wallet: str
    asset: str
    original: int
    remaining: int
    destination: dict[str, Any]
    description: str
    metadata: dict[str, str]
    closed: bool = False


class Wallets:
    """Every wallet of one sandbox, over ``ledger`` (the wallets service's ledger)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._wallets: dict[str, _Wallet] = {}
        self._holds: dict[str, _Hold] = {}

    def create(self, body: Any) -> dict[str, Any]:
        body = _object(body)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise SandboxError(400, "VALIDATION", "a wallet needs a name")
        metadata = _strings(body.get("metadata"))
        wallet = _Wallet(str(uuid.uuid4()), name, metadata, _now())
        self._wallets[wallet.id] = wallet
        self.ledger.add_account_metadata(
            balance_account(wallet.id, MAIN),
            {
                "wallets/spec/type": "wallets.primary",
                "wallets/id": wallet.id,
                "wallets/name": name,
                "wallets/createdAt": wallet.created_at,
                **{f"wallets/custom_data/{k}": v for k, v in metadata.items()},
            },
        )
        return self.summary(wallet.id)

    def summary(self, wallet_id: str) -> dict[str, Any]:
        w = self._wallet(wallet_id)
        return {
            "id": w.id,
            "name": w.name,
            "ledger": self.ledger.name,
            "metadata": dict(w.metadata),
            "createdAt": w.created_at,
        }

    def get(self, wallet_id: str) -> dict[str, Any]:
        w = self._wallet(wallet_id)
        return {
            **self.summary(w.id),
            "balances": {b: {"assets": self._assets(w.id, b)} for b in w.balances},
        }

    def find(self, name: str | None) -> list[dict[str, Any]]:
        return [self.summary(w.id) for w in self._wallets.values() if name in (None, w.name)]

    def create_balance(self, wallet_id: str, body: Any) -> dict[str, Any]:
        w = self._wallet(wallet_id)
        name = _object(body).get("name")
        if not isinstance(name, str) or not name or name == "hold" or ":" in name:
            raise SandboxError(400, "VALIDATION", "invalid balance name")
        if name in w.balances:
            raise SandboxError(400, "BALANCE_ALREADY_EXISTS", f"balance {name} already exists")
        w.balances.append(name)
        return {"name": name}

    def balance(self, wallet_id: str, name: str) -> dict[str, Any]:
        w = self._wallet(wallet_id)
        if name not in w.balances:
            raise SandboxError(404, "BALANCE_NOT_FOUND", f"balance {name} not found")
        return {"name": name, "assets": self._assets(w.id, name)}

    def balances(self, wallet_id: str) -> list[dict[str, Any]]:
        w = self._wallet(wallet_id)
        return [self.balance(w.id, b) for b in w.balances]

    def credit(self, wallet_id: str, body: Any) -> None:
        w = self._wallet(wallet_id)
        body = _object(body)
        asset, amount = _monetary(body.get("amount"))
        target = body.get("balance") or MAIN
        if target not in w.balances:
            raise SandboxError(400, "VALIDATION", f"balance {target} not found")
        sources = body.get("sources") or [{"type": "ACCOUNT", "identifier": WORLD}]
        if not isinstance(sources, list):
            raise SandboxError(400, "VALIDATION", "sources must be a list")
        # The sources pay in the order given, each as far as it goes (``world``
        # without limit), as the wallets service's Numscript source list does.
        legs: list[tuple[str, str, str, int]] = []
        left = amount
        destination = balance_account(w.id, target)
        for raw in sources:
            if left == 0:
                break
            source = self._subject(raw)
            has = self.ledger.account(source)["balances"].get(asset, 0)
            take = left if source == WORLD else min(left, max(has, 0))
            if take:
                legs.append((source, destination, asset, take))
                left -= take
        if left:
            raise SandboxError(400, "INSUFFICIENT_FUND", "insufficient funds in the sources")
        if not legs:
            legs.append((self._subject(sources[0]), destination, asset, 0))
        self._post(legs, body.get("metadata"), body.get("reference"))

    def debit(self, wallet_id: str, body: Any) -> dict[str, Any] | None:
        """None for an immediate debit; the hold's view for a pending one."""
        w = self._wallet(wallet_id)
        body = _object(body)
        asset, amount = _monetary(body.get("amount"))
        names = body.get("balances") or [MAIN]
        if names == ["*"]:
            names = list(w.balances)
        for name in names:
            if name not in w.balances:
                raise SandboxError(400, "VALIDATION", f"balance {name} not found")
        raw_destination = body.get("destination") or {"type": "ACCOUNT", "identifier": WORLD}
        destination = _object(raw_destination)
        metadata = body.get("metadata")
        hold: _Hold | None = None
        if body.get("pending"):
            hold = _Hold(
                str(uuid.uuid4()),
                w.id,
                asset,
                amount,
                amount,
                destination,
                str(body.get("description") or ""),
                _strings(metadata),
            )
            target = hold_account(w.id, hold.id)
        else:
            target = self._subject(destination)
        # Drain the balances in the order given, each as far as it goes.
        legs: list[tuple[str, str, str, int]] = []
        left = amount
        for name in names:
            if left == 0:
                break
            address = balance_account(w.id, name)
            take = min(left, max(self._assets(w.id, name).get(asset, 0), 0))
            if take:
                legs.append((address, target, asset, take))
                left -= take
        if left:
            raise SandboxError(400, "INSUFFICIENT_FUND", "insufficient funds in the wallet")
        if not legs:  # a zero debit still records a transaction, as the ledger allows
            legs.append((balance_account(w.id, names[0]), target, asset, 0))
        self._post(legs, metadata, None)
        if hold is None:
            return None
        self._holds[hold.id] = hold
        self.ledger.add_account_metadata(
            target,
            {
                "wallets/spec/type": "wallets.hold",
                "wallets/holds/id": hold.id,
                "wallets/holds/wallet_id": w.id,
                "wallets/holds/asset": asset,
            },
        )
        return self.hold(hold.id)

    def hold(self, hold_id: str) -> dict[str, Any]:
        h = self._hold(hold_id)
        return {
            "id": h.id,
            "walletID": h.wallet,
            "description": h.description,
            "metadata": dict(h.metadata),
            "destination": dict(h.destination),
            "asset": h.asset,
            "originalAmount": h.original,
            "remaining": h.remaining,
        }

    def holds(self, wallet_id: str | None) -> list[dict[str, Any]]:
        return [self.hold(h.id) for h in self._holds.values() if wallet_id in (None, h.wallet)]

    def confirm(self, hold_id: str, body: Any) -> None:
        h = self._open_hold(hold_id)
        body = _object(body) if body is not None else {}
        amount = body.get("amount") or h.remaining
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise SandboxError(400, "VALIDATION", "amount must be a non-negative integer")
        if amount > h.remaining:
            raise SandboxError(400, "INSUFFICIENT_FUND", "amount greater than the hold's remaining")
        source = hold_account(h.wallet, h.id)
        legs = [(source, self._subject(h.destination), h.asset, amount)]
        final = bool(body.get("final")) or amount == h.remaining
        if final and amount < h.remaining:
            legs.append((source, balance_account(h.wallet, MAIN), h.asset, h.remaining - amount))
        self._post(legs, None, None)
        h.remaining = 0 if final else h.remaining - amount
        h.closed = final

    def void(self, hold_id: str) -> None:
        h = self._open_hold(hold_id)
        source = hold_account(h.wallet, h.id)
        self._post([(source, balance_account(h.wallet, MAIN), h.asset, h.remaining)], None, None)
        h.remaining = 0
        h.closed = True

    def _post(self, legs: list[tuple[str, str, str, int]], metadata: Any, reference: Any) -> None:
        body: dict[str, Any] = {
            "postings": [
                {"source": s, "destination": d, "asset": a, "amount": n} for s, d, a, n in legs
            ],
            "metadata": _strings(metadata),
        }
        if reference:
            body["reference"] = reference
        self.ledger.create_transaction(body)

    def _subject(self, raw: Any) -> str:
        subject = _object(raw)
        identifier = subject.get("identifier")
        if not isinstance(identifier, str) or not identifier:
            raise SandboxError(400, "VALIDATION", "a subject needs an identifier")
        if subject.get("type") == "WALLET":
            balance = subject.get("balance") or MAIN
            if balance not in self._wallet(identifier).balances:
                raise SandboxError(400, "VALIDATION", f"balance {balance} not found")
            return balance_account(identifier, balance)
        if subject.get("type") not in (None, "ACCOUNT"):
            raise SandboxError(400, "VALIDATION", "a subject type is ACCOUNT or WALLET")
        return identifier

    def _assets(self, wallet_id: str, balance: str) -> dict[str, int]:
        account = self.ledger.account(balance_account(wallet_id, balance))
        balances: dict[str, int] = account["balances"]
        return balances

    def _wallet(self, wallet_id: str) -> _Wallet:
        wallet = self._wallets.get(wallet_id)
        if wallet is None:
            raise SandboxError(404, "NOT_FOUND", f"wallet {wallet_id} not found")
        return wallet

    def _hold(self, hold_id: str) -> _Hold:
        hold = self._holds.get(hold_id)
        if hold is None:
            raise SandboxError(404, "NOT_FOUND", f"hold {hold_id} not found")
        return hold

    def _open_hold(self, hold_id: str) -> _Hold:
        hold = self._hold(hold_id)
        if hold.closed:
            raise SandboxError(400, "HOLD_CLOSED", f"hold {hold_id} is closed")
        return hold


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SandboxError(400, "VALIDATION", "expected a JSON object")
    return raw


def _strings(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise SandboxError(400, "VALIDATION", "metadata must be an object of strings")
    return dict(raw)


def _monetary(raw: Any) -> tuple[str, int]:
    money = _object(raw)
    asset, amount = money.get("asset"), money.get("amount")
    if not isinstance(asset, str) or not asset:
        raise SandboxError(400, "VALIDATION", "amount.asset is required")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise SandboxError(400, "VALIDATION", "amount.amount must be a non-negative integer")
    return asset, amount
