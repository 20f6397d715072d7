"""The ``send`` stage: move money between accounts, wallets and payments (BEHAVIOUR.md 6.1).

Field order in ``read`` follows upstream's struct order, because coercion
stops at the first failure and that decides which error a user sees.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from engine.config._dates import format_date
from engine.config._schema import Reader, Violation, exactly_one_of, required
from engine.config._stage import Model, ResolvedStage

# Runtime defaults of a payment source, applied by the engine, never rendered.
INTERNAL_LEDGER = "orchestration-000-internal"

Alternative = Literal["wallet", "account", "payment"]


class Amount(Model):
    """``amount`` of a send; ``amount`` is ``None`` when the value interpolated to empty."""

    amount: int | None
    asset: str

    @classmethod
    def read(cls, body: Reader) -> Self:
        return cls(amount=body.integer("amount", "Amount"), asset=body.string("asset", "Asset"))

    def history_input(self) -> dict[str, Any]:
        return {"amount": self.amount, "asset": self.asset}


class LedgerAccount(Model):
    """A ledger account as send source or destination; the ledger defaults to ``default``."""

    id: str
    ledger: str = "default"
    through_account: str = "world"
    allow_overdraft: bool = False

    @classmethod
    def read(cls, body: Reader) -> Self:
        return cls(
            id=body.string("id", "ID"),
            ledger=body.string("ledger", "Ledger", "default"),
            through_account=body.string("throughAccount", "ThroughAccount", "world"),
            allow_overdraft=body.boolean("allowOverdraft", "AllowOverdraft"),
        )

    def violations(self, namespace: str, prefix: str) -> list[Violation]:
        return [
            *required(namespace, prefix, "id", "ID", bool(self.id)),
            *required(namespace, prefix, "ledger", "Ledger", bool(self.ledger)),
        ]

    def history_input(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ledger": self.ledger,
            "throughAccount": self.through_account,
            "allowOverdraft": self.allow_overdraft,
        }


class Wallet(Model):
    """A wallet chosen by ``id`` or by ``name`` (exactly one), and the balance to use."""

    id: str = ""
    name: str = ""
    balance: str = "main"

    @classmethod
    def read(cls, body: Reader) -> Self:
        return cls(
            id=body.string("id", "ID"),
            name=body.string("name", "Name"),
            balance=body.string("balance", "Balance", "main"),
        )

    def violations(self, namespace: str, prefix: str) -> list[Violation]:
        return [
            *exactly_one_of(namespace, prefix, {"id": bool(self.id), "name": bool(self.name)}),
            *required(namespace, prefix, "balance", "Balance", bool(self.balance)),
        ]

    def history_input(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "balance": self.balance}


class PaymentSource(Model):
    """A Payments payment ingested into a ledger, then used as source.

    ``ledger`` and ``holding_account`` stay empty when not given (upstream
    omits them from histories); ``ingestion_ledger`` and
    ``holding_account_or_default`` give the values the engine must use.
    """

    id: str
    ledger: str = ""
    holding_account: str = ""
    through_account: str = "world"
    allow_overdraft: bool = False

    @classmethod
    def read(cls, body: Reader) -> Self:
        return cls(
            id=body.string("id", "ID"),
            ledger=body.string("ledger", "Ledger"),
            holding_account=body.string("holdingAccount", "HoldingAccount"),
            through_account=body.string("throughAccount", "ThroughAccount", "world"),
            allow_overdraft=body.boolean("allowOverdraft", "AllowOverdraft"),
        )

    @property
    def ingestion_ledger(self) -> str:
        return self.ledger or INTERNAL_LEDGER

    @property
    def holding_account_or_default(self) -> str:
        return self.holding_account or "payment:" + self.id.replace("-", "_")

    def violations(self, namespace: str, prefix: str) -> list[Violation]:
        return required(namespace, prefix, "id", "ID", bool(self.id))

    def history_input(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {"id": self.id}
        if self.ledger:
            rendered["ledger"] = self.ledger
        if self.holding_account:
            rendered["holdingAccount"] = self.holding_account
        rendered["throughAccount"] = self.through_account
        rendered["allowOverdraft"] = self.allow_overdraft
        return rendered


class PaymentDestination(Model):
    """A transfer initiation on a PSP.

    ``source_account`` and ``connector_id`` are ``None`` only when the body
    does not mention them: a mentioned value that interpolates to empty is
    still sent (presence quirk, BEHAVIOUR.md 5.4). ``type`` is checked
    (``TRANSFER``/``PAYOUT``, any case) only when the transfer is initiated.
    """

    psp: str = ""
    type: str = "TRANSFER"
    source_account: str | None = None
    metadata: str = "formanceAccountID"
    waiting_validation: bool = False
    connector_id: str | None = None

    @classmethod
    def read(cls, body: Reader) -> Self:
        return cls(
            psp=body.string("psp", "PSP"),
            type=body.string("type", "Type", "TRANSFER"),
            source_account=body.optional_string("sourceAccount", "SourceAccount"),
            metadata=body.string("metadata", "Metadata", "formanceAccountID"),
            waiting_validation=body.boolean("waitingValidation", "WaitingValidation"),
            connector_id=body.optional_string("connectorId", "ConnectorID"),
        )

    def history_input(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {"psp": self.psp, "type": self.type}
        if self.source_account is not None:
            rendered["sourceAccount"] = self.source_account
        rendered["metadata"] = self.metadata
        rendered["waitingValidation"] = self.waiting_validation
        if self.connector_id is not None:
            rendered["connectorId"] = self.connector_id
        return rendered


class _SendEnd(Model):
    """One end of a send; after validation exactly one alternative is set.

    Source and destination differ only in their payment alternative.
    """

    wallet: Wallet | None = None
    account: LedgerAccount | None = None
    payment: PaymentSource | PaymentDestination | None = None

    _payment_model: ClassVar[type[PaymentSource] | type[PaymentDestination]]

    @classmethod
    def read(cls, body: Reader) -> Self:
        wallet = body.child("wallet", "Wallet")
        account = body.child("account", "Account")
        payment = body.child("payment", "Payment")
        return cls(
            wallet=Wallet.read(wallet) if wallet is not None else None,
            account=LedgerAccount.read(account) if account is not None else None,
            payment=cls._payment_model.read(payment) if payment is not None else None,
        )

    def violations(self, namespace: str, prefix: str) -> list[Violation]:
        found = exactly_one_of(
            namespace,
            prefix,
            {
                "wallet": self.wallet is not None,
                "account": self.account is not None,
                "payment": self.payment is not None,
            },
        )
        if self.wallet is not None:
            found += self.wallet.violations(f"{namespace}.Wallet", f"{prefix}.wallet")
        if self.account is not None:
            found += self.account.violations(f"{namespace}.Account", f"{prefix}.account")
        if isinstance(self.payment, PaymentSource):
            # A payment destination has no required field (upstream checks none).
            found += self.payment.violations(f"{namespace}.Payment", f"{prefix}.payment")
        return found

    @property
    def kind(self) -> Alternative:
        """The chosen alternative, for dispatch on the combination (BEHAVIOUR.md 6.2)."""
        return _chosen(self.wallet, self.account, self.payment)

    def history_input(self) -> dict[str, Any]:
        return _render_alternatives(self.wallet, self.account, self.payment)


class SendSource(_SendEnd):
    """Where money comes from."""

    payment: PaymentSource | None = None
    _payment_model = PaymentSource


class SendDestination(_SendEnd):
    """Where money goes."""

    payment: PaymentDestination | None = None
    _payment_model = PaymentDestination


def _chosen(wallet: object, account: object, payment: object) -> Alternative:
    chosen: list[Alternative] = []
    if wallet is not None:
        chosen.append("wallet")
    if account is not None:
        chosen.append("account")
    if payment is not None:
        chosen.append("payment")
    if len(chosen) != 1:  # only an unvalidated model can get here
        raise ValueError(f"exactly one alternative must be set, got {chosen}")
    return chosen[0]


def _render_alternatives(
    wallet: Wallet | None,
    account: LedgerAccount | None,
    payment: PaymentSource | PaymentDestination | None,
) -> dict[str, Any]:
    # Upstream's struct order; unset alternatives are omitted.
    rendered: dict[str, Any] = {}
    if wallet is not None:
        rendered["wallet"] = wallet.history_input()
    if account is not None:
        rendered["account"] = account.history_input()
    if payment is not None:
        rendered["payment"] = payment.history_input()
    return rendered


class Send(ResolvedStage):
    """Move ``amount`` from ``source`` to ``destination``.

    ``amount`` is ``None`` when the body has none (required at execution
    unless the source is a payment). ``metadata`` is ``None`` when absent,
    which the engine must keep apart from ``{}`` (a same-ledger wallet debit
    forwards it as given). ``timestamp`` is ``None`` when absent or empty.
    """

    stage_name: ClassVar[str] = "send"
    history_name: ClassVar[str] = "RunSend"
    go_name: ClassVar[str] = "Send"

    source: SendSource
    destination: SendDestination
    amount: Amount | None = None
    metadata: dict[str, str] | None = None
    timestamp: datetime | None = None

    @classmethod
    def read(cls, body: Reader) -> Self:
        # Read in upstream's order (source before destination) so the first error matches.
        source_model = SendSource.read(body.required_child("source", "Source"))
        destination_model = SendDestination.read(body.required_child("destination", "Destination"))
        amount = body.child("amount", "Amount")
        return cls(
            source=source_model,
            destination=destination_model,
            amount=Amount.read(amount) if amount is not None else None,
            metadata=body.string_map("metadata", "Metadata"),
            timestamp=body.date("timestamp", "Timestamp"),
        )

    def violations(self) -> list[Violation]:
        return [
            *self.source.violations(f"{self.go_name}.Source", "source"),
            *self.destination.violations(f"{self.go_name}.Destination", "destination"),
        ]

    def history_input(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "source": self.source.history_input(),
            "destination": self.destination.history_input(),
        }
        if self.amount is not None:
            rendered["amount"] = self.amount.history_input()
        if self.metadata:
            rendered["metadata"] = dict(self.metadata)
        rendered["timestamp"] = format_date(self.timestamp) if self.timestamp else None
        return rendered
