"""The activities a resolved stage runs (BEHAVIOUR 6.2, 7.2), computed once when it starts."""

from __future__ import annotations

from typing import Any

from engine.config import Send, Update, format_date
from engine.instance._state import PlannedCall

MOVE_TO = "orchestration/move-to-ledger"
MOVE_FROM = "orchestration/move-from-ledger"


class PlanError(ValueError):
    """The stage logic refuses the stage; the message is the stage's error."""


def update_plan(stage: Update) -> tuple[PlannedCall, ...]:
    account = stage.account
    if account is None:  # resolve_stage guarantees it; kept for the type checker
        raise PlanError("account is required")
    request = {
        "ledger": account.ledger,
        "account": account.id,
        "metadata": dict(account.metadata or {}),
    }
    return (PlannedCall("AddAccountMetadata", request),)


def send_plan(stage: Send) -> tuple[PlannedCall, ...]:
    source, destination = stage.source.account, stage.destination.account
    if source is None or destination is None:
        # Wallets and payments come in a later slice.
        raise PlanError("send supports only ledger account to ledger account in this version")
    if stage.amount is None or stage.amount.amount is None:
        raise PlanError("amount must be specified")
    amount, asset = stage.amount.amount, stage.amount.asset
    metadata = dict(stage.metadata or {})
    if source.ledger == destination.ledger:
        # Same ledger: throughAccount and allowOverdraft are ignored (6.2).
        return (
            _transaction(
                stage, amount, asset, source.ledger, source.id, destination.id, metadata, False
            ),
        )
    first = _transaction(
        stage,
        amount,
        asset,
        source.ledger,
        source.id,
        source.through_account,
        {**metadata, MOVE_TO: destination.ledger},
        source.allow_overdraft,
    )
    second = _transaction(
        stage,
        amount,
        asset,
        destination.ledger,
        destination.through_account,
        destination.id,
        {**metadata, MOVE_FROM: source.ledger},
        destination.allow_overdraft and destination.through_account != "world",
    )
    return (first, second)


def _transaction(
    stage: Send,
    amount: int,
    asset: str,
    ledger: str,
    source: str,
    destination: str,
    metadata: dict[str, str],
    overdraft: bool,
) -> PlannedCall:
    data: dict[str, Any] = {}
    if overdraft:
        # 6.3: the overdraft form is a Numscript program instead of postings.
        plain = (
            f"send [{asset} {amount}] (\n"
            f"  source = @{source} allowing unbounded overdraft\n"
            f"  destination = @{destination}\n)"
        )
        data["script"] = {"plain": plain}
    else:
        data["postings"] = [
            {"amount": amount, "asset": asset, "destination": destination, "source": source}
        ]
    if metadata:
        data["metadata"] = metadata
    if stage.timestamp is not None:
        data["timestamp"] = format_date(stage.timestamp)
    return PlannedCall("CreateTransaction", {"Ledger": ledger, "Data": data})
