"""The ``send`` stage, one source/destination combination at a time (BEHAVIOUR 6.2-6.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config import PaymentDestination, PaymentSource, Send, Wallet, format_date
from engine.instance._run import PlanError, Run

MOVE_TO = "orchestration/move-to-ledger"
MOVE_FROM = "orchestration/move-from-ledger"
WORLD = "world"
NO_AMOUNT = "amount must be specified"
PAYMENT_TO_PAYMENT = "send from payment to payment is not supported"
# GetPayment comes first, then the ingestion transaction.
INGESTION_POSITION = 1


@dataclass(frozen=True, slots=True)
class _Account:
    """A ledger account end, from the stage or from an ingested payment (6.2)."""

    id: str
    ledger: str
    through: str = WORLD
    overdraft: bool = False


@dataclass(frozen=True, slots=True)
class _Money:
    amount: int
    asset: str

    def wire(self) -> dict[str, Any]:
        return {"amount": self.amount, "asset": self.asset}


def run_send(stage: Send, run: Run) -> None:
    source, destination = stage.source, stage.destination
    if source.payment is not None:
        if destination.payment is not None:
            raise PlanError(PAYMENT_TO_PAYMENT)
        account, money = _ingest(stage, run, source.payment)
        _from_account(stage, run, account, money)
        return
    if stage.amount is None or stage.amount.amount is None:
        raise PlanError(NO_AMOUNT)
    money = _Money(stage.amount.amount, stage.amount.asset)
    if source.account is not None:
        src = source.account
        account = _Account(src.id, src.ledger, src.through_account, src.allow_overdraft)
        _from_account(stage, run, account, money)
    elif source.wallet is not None:
        _from_wallet(stage, run, source.wallet, money)


def _from_account(stage: Send, run: Run, src: _Account, money: _Money) -> None:
    destination, m = stage.destination, _metadata(stage)
    if destination.account is not None:
        dst = destination.account
        if src.ledger == dst.ledger:
            # throughAccount and allowOverdraft are ignored on one ledger (6.2).
            _transaction(stage, run, src.ledger, src.id, dst.id, money, m)
            return
        _move_to_ledger(stage, run, src, money, m, dst.ledger)
        _transaction(
            stage,
            run,
            dst.ledger,
            dst.through_account,
            dst.id,
            money,
            {**m, MOVE_FROM: src.ledger},
            overdraft=dst.allow_overdraft and dst.through_account != WORLD,
        )
    elif destination.wallet is not None:
        wallet = _resolve_wallet(run, destination.wallet)
        ledger, balance = _ledger(wallet), destination.wallet.balance
        if ledger == src.ledger:
            _credit(stage, run, wallet, money, balance, m, [_account_source(src.id)])
            return
        _move_to_ledger(stage, run, src, money, m, ledger)
        _credit(
            stage,
            run,
            wallet,
            money,
            balance,
            {**m, MOVE_FROM: src.ledger},
            [_account_source(src.through)],
        )
    elif destination.payment is not None:
        found = run.call("GetAccount", {"ledger": src.ledger, "id": src.id})
        target = _psp_account(_data(found), destination.payment)
        # The ledger is debited before the PSP is asked (6.2).
        _transaction(stage, run, src.ledger, src.id, src.through, money, m, overdraft=src.overdraft)
        _transfer(stage, run, destination.payment, target, money)


def _from_wallet(stage: Send, run: Run, source: Wallet, money: _Money) -> None:
    destination, m = stage.destination, _metadata(stage)
    wallet = _resolve_wallet(run, source)
    ledger = _ledger(wallet)
    if destination.account is not None:
        dst = destination.account
        if ledger == dst.ledger:
            target = _account_source(dst.id)
            # The stage metadata as given: null when absent (6.2).
            _debit(stage, run, wallet, money, source.balance, stage.metadata, target)
            return
        _debit(stage, run, wallet, money, source.balance, {**m, MOVE_TO: dst.ledger})
        _transaction(
            stage,
            run,
            dst.ledger,
            dst.through_account,
            dst.id,
            money,
            {**m, MOVE_FROM: ledger},
            overdraft=dst.allow_overdraft and dst.through_account != WORLD,
        )
    elif destination.wallet is not None:
        other = _resolve_wallet(run, destination.wallet)
        other_ledger, balance = _ledger(other), destination.wallet.balance
        if other_ledger == ledger:
            # The source balance is always "main" here; source.balance is ignored (6.2).
            sources = [{"balance": "main", "identifier": _wallet_id(wallet), "type": "WALLET"}]
            _credit(stage, run, other, money, balance, m, sources)
            return
        _debit(stage, run, wallet, money, source.balance, {**m, MOVE_TO: other_ledger})
        _credit(stage, run, other, money, balance, {**m, MOVE_FROM: ledger}, None)
    elif destination.payment is not None:
        psp_account = _psp_account(wallet, destination.payment)
        _debit(stage, run, wallet, money, source.balance, m)
        _transfer(stage, run, destination.payment, psp_account, money)


def _ingest(stage: Send, run: Run, payment: PaymentSource) -> tuple[_Account, _Money]:
    """GetPayment, then post its initial amount to the holding account (6.2)."""
    found = _data(run.call("GetPayment", {"id": payment.id}))
    initial = found.get("initialAmount")
    asset = found.get("asset")
    if not isinstance(initial, int) or isinstance(initial, bool) or not isinstance(asset, str):
        raise PlanError(f"payment {payment.id} has no initialAmount and asset")
    ledger, holding = payment.ingestion_ledger, payment.holding_account_or_default
    _transaction(
        stage,
        run,
        ledger,
        payment.through_account,
        holding,
        _Money(initial, asset),
        _metadata(stage),
        overdraft=payment.allow_overdraft and payment.through_account != WORLD,
        reference=holding,
    )
    if stage.amount is not None and stage.amount.amount is not None:
        money = _Money(stage.amount.amount, stage.amount.asset)
    else:
        money = _Money(initial, asset)
    return _Account(holding, ledger), money


def _resolve_wallet(run: Run, wallet: Wallet) -> dict[str, Any]:
    if wallet.id:
        return _data(run.call("GetWallet", {"id": wallet.id}))
    cursor = run.call("ListWallets", {"name": wallet.name}).get("cursor")
    found = cursor.get("data") if isinstance(cursor, dict) else None
    wallets = [w for w in found if isinstance(w, dict)] if isinstance(found, list) else []
    if not wallets:
        raise PlanError("wallet not found")
    if len(wallets) > 1:
        raise PlanError("found multiple wallets with the same name")
    return wallets[0]


def _account_source(address: str) -> dict[str, str]:
    return {"identifier": address, "type": "ACCOUNT"}


def _psp_account(holder: dict[str, Any], payment: PaymentDestination) -> str:
    """The PSP destination account id, read from the source's metadata (6.2)."""
    metadata = holder.get("metadata")
    value = metadata.get(payment.metadata) if isinstance(metadata, dict) else None
    if value is None:
        raise PlanError(f"expected '{payment.metadata}' metadata containing formance account ID")
    if not isinstance(value, str) or value == "":
        raise PlanError("formance account ID empty")
    return value


def _move_to_ledger(
    stage: Send, run: Run, src: _Account, money: _Money, metadata: dict[str, str], ledger: str
) -> None:
    """The first leg of a cross-ledger send: source to its through account."""
    _transaction(
        stage,
        run,
        src.ledger,
        src.id,
        src.through,
        money,
        {**metadata, MOVE_TO: ledger},
        overdraft=src.overdraft,
    )


def _transaction(
    stage: Send,
    run: Run,
    ledger: str,
    source: str,
    destination: str,
    money: _Money,
    metadata: dict[str, str],
    *,
    overdraft: bool = False,
    reference: str | None = None,
) -> None:
    data: dict[str, Any] = {}
    if overdraft:
        # 6.3: the overdraft form is a Numscript program instead of postings.
        plain = (
            f"send [{money.asset} {money.amount}] (\n"
            f"  source = @{source} allowing unbounded overdraft\n"
            f"  destination = @{destination}\n)"
        )
        data["script"] = {"plain": plain}
    else:
        data["postings"] = [{**money.wire(), "destination": destination, "source": source}]
    if reference is not None:
        data["reference"] = reference
    if metadata:
        data["metadata"] = metadata
    _timestamp(stage, data)
    run.call("CreateTransaction", {"Ledger": ledger, "Data": data})


def _credit(
    stage: Send,
    run: Run,
    wallet: dict[str, Any],
    money: _Money,
    balance: str,
    metadata: dict[str, str],
    sources: list[dict[str, str]] | None,
) -> None:
    data: dict[str, Any] = {
        "amount": money.wire(),
        "balance": balance,
        "metadata": metadata,
        "sources": sources,
    }
    _timestamp(stage, data)
    run.call("CreditWallet", {"id": _wallet_id(wallet), "data": data})


def _debit(
    stage: Send,
    run: Run,
    wallet: dict[str, Any],
    money: _Money,
    balance: str,
    metadata: dict[str, str] | None,
    destination: dict[str, str] | None = None,
) -> None:
    # Immediate debits only: no stage asks for a pending one (a hold, 7.2).
    data: dict[str, Any] = {"amount": money.wire(), "balances": [balance]}
    if destination is not None:
        data["destination"] = destination
    data["metadata"] = None if metadata is None else dict(metadata)
    _timestamp(stage, data)
    run.call("DebitWallet", {"id": _wallet_id(wallet), "data": data})


def _transfer(
    stage: Send, run: Run, payment: PaymentDestination, target: str, money: _Money
) -> None:
    request: dict[str, Any] = {**money.wire()}
    if payment.connector_id:
        request["connectorID"] = payment.connector_id
    request["provider"] = payment.psp
    request["destination"] = target
    if payment.source_account:
        request["source"] = payment.source_account
    request["type"] = payment.type.upper()  # case-insensitive in the stage (6.1)
    request["metadata"] = _metadata(stage)
    request["waitingValidation"] = payment.waiting_validation
    # Unique per stage execution and call, the same on every retry: the
    # activity looks it up before posting so a PSP is never asked twice (6.4).
    request["reference"] = run.next_reference()
    run.call("CreateTransferInitiation", request)


def _metadata(stage: Send) -> dict[str, str]:
    return dict(stage.metadata or {})


def _timestamp(stage: Send, data: dict[str, Any]) -> None:
    if stage.timestamp is not None:
        data["timestamp"] = format_date(stage.timestamp)


def _data(output: dict[str, Any]) -> dict[str, Any]:
    data = output.get("data")
    return data if isinstance(data, dict) else {}


def _ledger(wallet: dict[str, Any]) -> str:
    ledger = wallet.get("ledger")
    if not isinstance(ledger, str) or not ledger:
        raise PlanError(f"wallet {_wallet_id(wallet)} has no ledger")
    return ledger


def _wallet_id(wallet: dict[str, Any]) -> str:
    wallet_id = wallet.get("id")
    return wallet_id if isinstance(wallet_id, str) else ""


def stage_failure(name: str, request: dict[str, Any], message: str) -> str:
    """The stage's error when activity ``name`` failed for good with ``message`` (8.3).

    The two reads whose answer the stage needs name what they were reading
    (``retrieving payment: <id>: ...``, ``reading account: <id>: ...``); every
    other failure is the activity's message as is (a ledger or wallets
    ``errorMessage`` for the typed ones).
    """
    if name == "GetPayment":
        return f"retrieving payment: {request.get('id', '')}: {message}"
    if name == "GetAccount":
        return f"reading account: {request.get('id', '')}: {message}"
    return message


def tolerates_conflict(stage: Send, position: int) -> bool:
    """Whether a CONFLICT at ``position`` is ignored: a payment's ingestion seen before (6.2)."""
    return stage.source.payment is not None and position == INGESTION_POSITION
