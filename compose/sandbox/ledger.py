"""The sandbox's in-memory ledgers: double entry, exact integers, no I/O.

Rules kept from the Formance ledger v2: only ``world`` may go negative
(or an account the overdraft script of ``numscript`` lets go below zero), a
``reference`` is unique per ledger, an ``Idempotency-Key`` replays the first
answer for the same body and refuses another body. Everything is lost when
the process ends: this is a test double, not a ledger.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from compose.sandbox.events import Sink, committed_transactions, saved_metadata
from compose.sandbox.ledger_rules import SandboxError, valid_address, valid_asset
from compose.sandbox.numscript import compile_script
from streams import codec

__all__ = ["Ledger", "Ledgers", "SandboxError", "fingerprint"]

WORLD = "world"
_LEDGER = re.compile(r"^[0-9A-Za-z_-]{1,63}$")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Volume:
    input: int = 0
    output: int = 0

    def view(self) -> dict[str, int]:
        return {"input": self.input, "output": self.output, "balance": self.input - self.output}


@dataclass
class Ledger:
    name: str
    added_at: str
    metadata: dict[str, str] = field(default_factory=dict)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    volumes: dict[str, dict[str, _Volume]] = field(default_factory=dict)
    account_metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    references: dict[str, int] = field(default_factory=dict)
    # key -> (fingerprint of the request, the answer it got)
    idempotency: dict[str, tuple[str, Any]] = field(default_factory=dict)
    # Told of every state change once it is made (the events publisher).
    sink: Sink | None = field(default=None, repr=False, compare=False)

    def view(self) -> dict[str, Any]:
        return {
            "id": 0,
            "name": self.name,
            "bucket": "_default",
            "addedAt": self.added_at,
            "metadata": self.metadata,
        }

    def account(self, address: str) -> dict[str, Any]:
        volumes = {a: v.view() for a, v in sorted(self.volumes.get(address, {}).items())}
        return {
            "address": address,
            "metadata": dict(self.account_metadata.get(address, {})),
            "volumes": volumes,
            "effectiveVolumes": volumes,
            "balances": {a: v["balance"] for a, v in volumes.items()},
        }

    def replay(self, key: str | None, fingerprint: str) -> Any:
        """The first answer for ``key``; None when the key is new or absent."""
        if key is None or key not in self.idempotency:
            return None
        seen, answer = self.idempotency[key]
        if seen != fingerprint:
            # The ledger refuses a reused key with another input as a validation error.
            raise SandboxError(400, "VALIDATION", "invalid idempotency input: key reused")
        return answer

    def remember(self, key: str | None, fingerprint: str, answer: Any) -> None:
        if key is not None:
            self.idempotency[key] = (fingerprint, answer)

    def create_transaction(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise SandboxError(400, "VALIDATION", "the body must be a JSON object")
        script = body.get("script")
        if isinstance(script, dict) and not script.get("plain"):
            script = None  # the ledger ignores an empty script
        # How far below zero an account may go, by (address, asset): 0 unless a
        # script allows an overdraft (None: unbounded); `world` is unbounded.
        limits: dict[tuple[str, str], int | None] = {}
        if script and body.get("postings"):
            raise SandboxError(400, "VALIDATION", "postings or a script, not both")
        if script:
            send = compile_script(script)
            postings = [send.posting()]
            limits[(send.source, send.asset)] = send.limit
        else:
            postings = [_posting(p) for p in body.get("postings") or []]
        if not postings:
            raise SandboxError(400, "NO_POSTINGS", "a transaction needs at least one posting")
        reference = body.get("reference") or None
        if reference is not None and not isinstance(reference, str):
            raise SandboxError(400, "VALIDATION", "reference must be a string")
        # The ledger answers a reused reference 409, unlike its other refusals (400).
        if reference is not None and reference in self.references:
            raise SandboxError(409, "CONFLICT", f"reference {reference!r} already used")
        metadata = _metadata(body.get("metadata"))
        # Check in posting order on a copy of the balances (the ledger runs
        # postings one after the other): a refused transaction changes nothing.
        balances: dict[tuple[str, str], int] = {}
        for p in postings:
            for address, delta in ((p["source"], -p["amount"]), (p["destination"], p["amount"])):
                slot = (address, p["asset"])
                if slot not in balances:
                    vol = self.volumes.get(address, {}).get(p["asset"], _Volume())
                    balances[slot] = vol.input - vol.output
                balances[slot] += delta
                floor = None if address == WORLD else limits.get(slot, 0)
                if floor is not None and balances[slot] < -floor:
                    raise SandboxError(
                        400,
                        "INSUFFICIENT_FUND",
                        f"account {address} has insufficient funds in {p['asset']}",
                    )
        touched = [(a, p["asset"]) for p in postings for a in (p["source"], p["destination"])]
        pre = self._volumes(touched) if self.sink is not None else {}
        for p in postings:
            self._vol(p["source"], p["asset"]).output += p["amount"]
            self._vol(p["destination"], p["asset"]).input += p["amount"]
        tx: dict[str, Any] = {
            "id": len(self.transactions),
            "postings": postings,
            "metadata": metadata,
            "timestamp": body.get("timestamp") or _now(),
            "insertedAt": _now(),
            "reverted": False,
        }
        if reference is not None:
            tx["reference"] = reference
            self.references[reference] = tx["id"]
        self.transactions.append(tx)
        if self.sink is not None:
            self.sink(committed_transactions(self.name, tx, pre, self._volumes(touched)))
        return tx

    def add_account_metadata(self, address: str, body: Any) -> None:
        _check_address(address)
        metadata = _metadata(body)
        self.account_metadata.setdefault(address, {}).update(metadata)
        if self.sink is not None:
            self.sink(saved_metadata(self.name, address, metadata))

    def _volumes(self, slots: list[tuple[str, str]]) -> dict[str, dict[str, tuple[int, int]]]:
        out: dict[str, dict[str, tuple[int, int]]] = {}
        for address, asset in slots:
            vol = self.volumes.get(address, {}).get(asset, _Volume())
            out.setdefault(address, {})[asset] = (vol.input, vol.output)
        return out

    def _vol(self, address: str, asset: str) -> _Volume:
        return self.volumes.setdefault(address, {}).setdefault(asset, _Volume())


class Ledgers:
    """Every ledger of one sandbox process, by name."""

    def __init__(self, sink: Sink | None = None) -> None:
        self._by_name: dict[str, Ledger] = {}
        self._sink = sink

    def create(self, name: str, body: Any) -> None:
        if not _LEDGER.match(name):
            raise SandboxError(400, "VALIDATION", f"invalid ledger name {name!r}")
        if name in self._by_name:
            raise SandboxError(400, "LEDGER_ALREADY_EXISTS", f"ledger {name} already exists")
        meta = _metadata(body.get("metadata") if isinstance(body, dict) else None)
        self._by_name[name] = Ledger(name, _now(), meta, sink=self._sink)

    def get(self, name: str) -> Ledger:
        ledger = self._by_name.get(name)
        if ledger is None:
            raise SandboxError(404, "NOT_FOUND", f"ledger {name} not found")
        return ledger

    def all(self) -> list[Ledger]:
        return sorted(self._by_name.values(), key=lambda ledger: ledger.name)


def fingerprint(body: Any) -> str:
    """Stable digest of a request body (``codec`` with sorted keys is deterministic)."""
    return hashlib.sha256(codec.dumps(_sorted(body))).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _check_address(address: str) -> None:
    if not valid_address(address):
        raise SandboxError(400, "VALIDATION", f"invalid account address {address!r}")


def _posting(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SandboxError(400, "VALIDATION", "a posting must be an object")
    source, destination = raw.get("source"), raw.get("destination")
    asset, amount = raw.get("asset"), raw.get("amount")
    for address in (source, destination):
        if not isinstance(address, str):
            raise SandboxError(400, "VALIDATION", "posting source and destination are required")
        _check_address(address)
    if not isinstance(asset, str) or not valid_asset(asset):
        raise SandboxError(400, "VALIDATION", f"invalid asset {asset!r}")
    # bool is an int in Python; JSON true is not an amount.
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise SandboxError(400, "VALIDATION", "amount must be a non-negative integer")
    return {"source": source, "destination": destination, "asset": asset, "amount": amount}


def _metadata(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise SandboxError(400, "VALIDATION", "metadata must be an object of strings")
    return dict(raw)
