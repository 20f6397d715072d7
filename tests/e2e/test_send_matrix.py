"""Every `send` source/destination combination of BEHAVIOUR 6.2 on the sandbox, and 8.3 failures.

One stack and one sandbox for the module: each case seeds its own ledgers,
accounts, wallets and payments (named after the case), then all instances
run at once and each parametrized test checks its own:

* the instance's error (8.3), or none;
* the stage history (4.6): the activities in the order of 6.2, each input
  exactly as 7.2 shapes it (postings or the overdraft script of 6.3, the
  `orchestration/move-to-ledger` / `move-from-ledger` metadata, wallet
  balances and sources, the transfer initiation of 6.4), every one ended;
* the sandbox afterwards: exact balances of every account the case touches
  (amounts of 2**70 + 3: a float on the way changes the last digit, a call
  applied twice doubles it) and the transfer initiation the PSP received.

Not here: wallet to wallet across ledgers (the sandbox runs every wallet on
one ledger, as a stack's wallets service does; the unit tests cover it) and
holds (no stage asks for a pending debit, 7.2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Launcher, Stack
from tests.e2e.helpers import (
    SandboxClient,
    history,
    stage_history,
    start_instance,
    terminated,
)

pytestmark = pytest.mark.e2e

A = 2**70 + 3
ASSET = "EUR/2"
INTERNAL = "orchestration-000-internal"  # a payment's default ingestion ledger (6.1)
WALLETS = "wallets-002"  # the sandbox's wallets ledger
TO = "orchestration/move-to-ledger"
FROM = "orchestration/move-from-ledger"
NOT_A_WALLET = "00000000-0000-4000-8000-000000000000"


@dataclass
class Expect:
    """What one case runs and what it must leave behind."""

    send: dict[str, Any]
    # (activity name, its exact input) in order; the last one carries
    # `failed` when the stage fails on an activity.
    activities: list[tuple[str, dict[str, Any]]]
    balances: dict[tuple[str, str], int]
    error: str | None = None
    failed: str | None = None
    # Activities whose failure the stage tolerates (6.2: an ingestion seen before).
    tolerated: dict[int, str] = field(default_factory=dict)
    # Fields of the transfer initiation the sandbox received.
    transfer: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)


Seed = Callable[[SandboxClient, str], Expect]
CASES: dict[str, Seed] = {}


def case(seed: Seed) -> Seed:
    CASES[seed.__name__] = seed
    return seed


def money(amount: int = A) -> dict[str, Any]:
    return {"amount": amount, "asset": ASSET}


def tx(
    ledger: str,
    source: str,
    destination: str,
    metadata: dict[str, str] | None = None,
    *,
    amount: int = A,
    reference: str | None = None,
    script: bool = False,
) -> tuple[str, dict[str, Any]]:
    """A CreateTransaction input (7.2), in the postings or the overdraft form (6.3)."""
    data: dict[str, Any] = {}
    if script:
        plain = (
            f"send [{ASSET} {amount}] (\n"
            f"  source = @{source} allowing unbounded overdraft\n"
            f"  destination = @{destination}\n)"
        )
        data["script"] = {"plain": plain}
    else:
        data["postings"] = [
            {"amount": amount, "asset": ASSET, "destination": destination, "source": source}
        ]
    if reference is not None:
        data["reference"] = reference
    if metadata:
        data["metadata"] = metadata
    return ("CreateTransaction", {"Ledger": ledger, "Data": data})


def credit(
    wallet: str,
    metadata: dict[str, str],
    sources: list[dict[str, str]] | None,
    balance: str = "main",
) -> tuple[str, dict[str, Any]]:
    data = {"amount": money(), "balance": balance, "metadata": metadata, "sources": sources}
    return ("CreditWallet", {"id": wallet, "data": data})


def debit(
    wallet: str,
    metadata: dict[str, str] | None,
    balance: str = "main",
    destination: str | None = None,
) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {"amount": money(), "balances": [balance], "metadata": metadata}
    if destination is not None:
        data["destination"] = {"identifier": destination, "type": "ACCOUNT"}
    return ("DebitWallet", {"id": wallet, "data": data})


def account(identifier: str) -> dict[str, str]:
    return {"identifier": identifier, "type": "ACCOUNT"}


def get_wallet(wallet: str) -> tuple[str, dict[str, Any]]:
    return ("GetWallet", {"id": wallet})


def in_wallet(wallet: str, balance: str = "main") -> tuple[str, str]:
    """The ledger account holding a wallet balance (how the wallets service keeps it)."""
    return (WALLETS, f"wallets:{wallet}:{balance}")


def ledgers(sandbox: SandboxClient, t: str) -> tuple[str, str]:
    """Two fresh ledgers of the case."""
    a, b = f"{t}-a", f"{t}-b"
    sandbox.ledger(a)
    sandbox.ledger(b)
    return a, b


def meta(t: str, **extra: str) -> dict[str, str]:
    return {"case": t, **extra}


# -- account -> account --------------------------------------------------------


@case
def account_to_account_on_one_ledger(sandbox: SandboxClient, t: str) -> Expect:
    la, _ = ledgers(sandbox, t)
    src, dst = f"users:{t}:src", f"users:{t}:dst"
    sandbox.fund(la, src, A)
    # throughAccount and allowOverdraft are ignored on one ledger (6.2).
    source = {"id": src, "ledger": la, "throughAccount": "bridge", "allowOverdraft": True}
    return Expect(
        send={
            "source": {"account": source},
            "destination": {"account": {"id": dst, "ledger": la}},
            "amount": money(),
            "metadata": meta(t),
        },
        activities=[tx(la, src, dst, meta(t))],
        balances={(la, src): 0, (la, dst): A, (la, "bridge"): 0},
    )


@case
def account_to_account_across_ledgers(sandbox: SandboxClient, t: str) -> Expect:
    la, lb = ledgers(sandbox, t)
    src, dst = f"users:{t}:src", f"users:{t}:dst"
    sandbox.fund(la, src, A)
    # The engine's key wins over a user key of the same name (6.2).
    user = meta(t, **{TO: "mine"})
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": la}},
            "destination": {"account": {"id": dst, "ledger": lb}},
            "amount": money(),
            "metadata": user,
        },
        activities=[
            tx(la, src, "world", {**user, TO: lb}),
            tx(lb, "world", dst, {**user, FROM: la}),
        ],
        balances={(la, src): 0, (lb, dst): A},
    )


@case
def account_to_account_across_ledgers_with_overdraft_through_bridges(
    sandbox: SandboxClient, t: str
) -> Expect:
    la, lb = ledgers(sandbox, t)
    src, dst = f"users:{t}:src", f"users:{t}:dst"
    out, into = f"bridge:{t}:out", f"bridge:{t}:in"
    return Expect(
        send={
            "source": {
                "account": {"id": src, "ledger": la, "throughAccount": out, "allowOverdraft": True}
            },
            "destination": {
                "account": {"id": dst, "ledger": lb, "throughAccount": into, "allowOverdraft": True}
            },
            "amount": money(),
            "metadata": meta(t),
        },
        # 6.3: both legs in the overdraft form (the source is not funded; the
        # destination's bridge is not world).
        activities=[
            tx(la, src, out, meta(t, **{TO: lb}), script=True),
            tx(lb, into, dst, meta(t, **{FROM: la}), script=True),
        ],
        balances={(la, src): -A, (la, out): A, (lb, into): -A, (lb, dst): A},
    )


@case
def account_to_account_without_funds_fails(sandbox: SandboxClient, t: str) -> Expect:
    la, _ = ledgers(sandbox, t)
    src, dst = f"users:{t}:src", f"users:{t}:dst"
    sandbox.fund(la, src, A - 1)
    # INSUFFICIENT_FUND ends a ledger call at once (14.2); the stage error is
    # the ledger's message (8.3).
    error = f"account {src} has insufficient funds in {ASSET}"
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": la}},
            "destination": {"account": {"id": dst, "ledger": la}},
            "amount": money(),
        },
        activities=[tx(la, src, dst)],
        balances={(la, src): A - 1, (la, dst): 0},
        error=error,
        failed=error,
    )


@case
def account_to_account_without_amount_fails(sandbox: SandboxClient, t: str) -> Expect:
    la, _ = ledgers(sandbox, t)
    src, dst = f"users:{t}:src", f"users:{t}:dst"
    sandbox.fund(la, src, A)
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": la}},
            "destination": {"account": {"id": dst, "ledger": la}},
        },
        activities=[],
        balances={(la, src): A, (la, dst): 0},
        error="amount must be specified",
    )


# -- account -> wallet ---------------------------------------------------------


@case
def account_to_wallet_on_the_wallet_ledger(sandbox: SandboxClient, t: str) -> Expect:
    src = f"users:{t}:src"
    sandbox.fund(WALLETS, src, A)
    wallet, _ = sandbox.wallet(f"{t}-wallet")
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": WALLETS}},
            "destination": {"wallet": {"id": wallet}},
            "amount": money(),
            "metadata": meta(t),
        },
        activities=[get_wallet(wallet), credit(wallet, meta(t), [account(src)])],
        balances={(WALLETS, src): 0, in_wallet(wallet): A},
    )


@case
def account_to_wallet_by_name_into_a_balance_across_ledgers(
    sandbox: SandboxClient, t: str
) -> Expect:
    la, _ = ledgers(sandbox, t)
    src = f"users:{t}:src"
    sandbox.fund(la, src, A)
    name = f"{t}-wallet"
    wallet, _ = sandbox.wallet(name)
    sandbox.add_balance(wallet, "savings")
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": la}},
            "destination": {"wallet": {"name": name, "balance": "savings"}},
            "amount": money(),
            "metadata": meta(t),
        },
        activities=[
            ("ListWallets", {"name": name}),
            tx(la, src, "world", meta(t, **{TO: WALLETS})),
            credit(wallet, meta(t, **{FROM: la}), [account("world")], balance="savings"),
        ],
        balances={(la, src): 0, in_wallet(wallet, "savings"): A, in_wallet(wallet): 0},
    )


@case
def account_to_wallet_named_but_missing_fails(sandbox: SandboxClient, t: str) -> Expect:
    la, _ = ledgers(sandbox, t)
    src = f"users:{t}:src"
    sandbox.fund(la, src, A)
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": la}},
            "destination": {"wallet": {"name": f"{t}-nobody"}},
            "amount": money(),
        },
        activities=[("ListWallets", {"name": f"{t}-nobody"})],
        balances={(la, src): A},
        error="wallet not found",
    )


@case
def account_to_wallet_named_twice_fails(sandbox: SandboxClient, t: str) -> Expect:
    la, _ = ledgers(sandbox, t)
    src = f"users:{t}:src"
    sandbox.fund(la, src, A)
    name = f"{t}-twin"
    first, _ = sandbox.wallet(name)
    second, _ = sandbox.wallet(name)
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": la}},
            "destination": {"wallet": {"name": name}},
            "amount": money(),
        },
        activities=[("ListWallets", {"name": name})],
        balances={(la, src): A, in_wallet(first): 0, in_wallet(second): 0},
        error="found multiple wallets with the same name",
    )


@case
def account_to_wallet_unknown_id_fails_within_its_attempt_budget(
    sandbox: SandboxClient, t: str
) -> Expect:
    la, _ = ledgers(sandbox, t)
    src = f"users:{t}:src"
    sandbox.fund(la, src, A)
    # GetWallet is untyped (7.1): its 404 is retryable, so one attempt (14.3)
    # keeps the case short; the message names the call.
    error = (
        f"unexpected status 404 from GET /api/wallets/wallets/{NOT_A_WALLET}: "
        f"NOT_FOUND: wallet {NOT_A_WALLET} not found"
    )
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": la}},
            "destination": {"wallet": {"id": NOT_A_WALLET}},
            "amount": money(),
        },
        activities=[get_wallet(NOT_A_WALLET)],
        balances={(la, src): A},
        error=error,
        failed=error,
        config={"activityMaxAttempts": 1},
    )


# -- wallet -> account ---------------------------------------------------------


@case
def wallet_to_account_on_the_wallet_ledger(sandbox: SandboxClient, t: str) -> Expect:
    dst = f"users:{t}:dst"
    wallet, _ = sandbox.wallet(f"{t}-wallet")
    sandbox.credit(wallet, A)
    return Expect(
        # No stage metadata: the debit carries `null` (6.2).
        send={
            "source": {"wallet": {"id": wallet}},
            "destination": {"account": {"id": dst, "ledger": WALLETS}},
            "amount": money(),
        },
        activities=[get_wallet(wallet), debit(wallet, None, destination=dst)],
        balances={in_wallet(wallet): 0, (WALLETS, dst): A},
    )


@case
def wallet_to_account_from_a_balance_across_ledgers(sandbox: SandboxClient, t: str) -> Expect:
    _, lb = ledgers(sandbox, t)
    dst = f"users:{t}:dst"
    wallet, _ = sandbox.wallet(f"{t}-wallet")
    sandbox.add_balance(wallet, "savings")
    sandbox.credit(wallet, A, "savings")
    sandbox.credit(wallet, 7)  # main: untouched
    return Expect(
        send={
            "source": {"wallet": {"id": wallet, "balance": "savings"}},
            "destination": {"account": {"id": dst, "ledger": lb}},
            "amount": money(),
            "metadata": meta(t),
        },
        activities=[
            get_wallet(wallet),
            debit(wallet, meta(t, **{TO: lb}), balance="savings"),
            tx(lb, "world", dst, meta(t, **{FROM: WALLETS})),
        ],
        balances={in_wallet(wallet, "savings"): 0, in_wallet(wallet): 7, (lb, dst): A},
    )


@case
def wallet_to_account_without_funds_fails(sandbox: SandboxClient, t: str) -> Expect:
    dst = f"users:{t}:dst"
    wallet, _ = sandbox.wallet(f"{t}-wallet")
    sandbox.credit(wallet, A - 1)
    # DebitWallet is typed (7.1): INSUFFICIENT_FUND ends the stage at once (14.2).
    error = "insufficient funds in the wallet"
    return Expect(
        send={
            "source": {"wallet": {"id": wallet}},
            "destination": {"account": {"id": dst, "ledger": WALLETS}},
            "amount": money(),
        },
        activities=[get_wallet(wallet), debit(wallet, None, destination=dst)],
        balances={in_wallet(wallet): A - 1, (WALLETS, dst): 0},
        error=error,
        failed=error,
    )


# -- wallet -> wallet ----------------------------------------------------------


@case
def wallet_to_wallet_on_one_ledger(sandbox: SandboxClient, t: str) -> Expect:
    source, _ = sandbox.wallet(f"{t}-from")
    name = f"{t}-to"
    target, _ = sandbox.wallet(name)
    sandbox.add_balance(source, "savings")
    sandbox.credit(source, A)
    sandbox.credit(source, A, "savings")
    sandbox.add_balance(target, "savings")
    # The source balance is always main on one ledger: `savings` is ignored (6.2).
    sources = [{"balance": "main", "identifier": source, "type": "WALLET"}]
    return Expect(
        send={
            "source": {"wallet": {"id": source, "balance": "savings"}},
            "destination": {"wallet": {"name": name, "balance": "savings"}},
            "amount": money(),
            "metadata": meta(t),
        },
        activities=[
            get_wallet(source),
            ("ListWallets", {"name": name}),
            credit(target, meta(t), sources, balance="savings"),
        ],
        balances={
            in_wallet(source): 0,
            in_wallet(source, "savings"): A,
            in_wallet(target, "savings"): A,
            in_wallet(target): 0,
        },
    )


# -- to a payment (transfer initiation, 6.4) -----------------------------------


@case
def account_to_payment(sandbox: SandboxClient, t: str) -> Expect:
    la, _ = ledgers(sandbox, t)
    src, psp_account = f"users:{t}:src", f"acct-{t}"
    sandbox.fund(la, src, A)
    sandbox.set_metadata(la, src, {"formanceAccountID": psp_account})
    destination = {
        "psp": "stripe",
        "type": "payout",
        "sourceAccount": "acc-src",
        "connectorId": "conn-1",
    }
    transfer = {
        **money(),
        "connectorID": "conn-1",
        "provider": "stripe",
        "destination": psp_account,
        "source": "acc-src",
        "type": "PAYOUT",
        "metadata": meta(t),
        "waitingValidation": False,
    }
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": la}},
            "destination": {"payment": destination},
            "amount": money(),
            "metadata": meta(t),
        },
        # The ledger is debited before the PSP is asked (6.2).
        activities=[
            ("GetAccount", {"ledger": la, "id": src}),
            tx(la, src, "world", meta(t)),
            ("CreateTransferInitiation", transfer),
        ],
        balances={(la, src): 0},
        transfer={
            **money(),
            "provider": "STRIPE",
            "type": "PAYOUT",
            "description": "stripe PAYOUT",
            "sourceAccountID": "acc-src",
            "destinationAccountID": psp_account,
            "connectorID": "conn-1",
            "metadata": meta(t),
            "status": "PROCESSING",
        },
    )


@case
def account_to_payment_with_overdraft_through_an_account(sandbox: SandboxClient, t: str) -> Expect:
    la, _ = ledgers(sandbox, t)
    src, pending, psp_account = f"users:{t}:src", f"payouts:{t}", f"acct-{t}"
    sandbox.set_metadata(la, src, {"pspAccount": psp_account})
    source = {"id": src, "ledger": la, "throughAccount": pending, "allowOverdraft": True}
    destination = {"psp": "wise", "metadata": "pspAccount", "waitingValidation": True}
    transfer = {
        **money(),
        "provider": "wise",
        "destination": psp_account,
        "type": "TRANSFER",
        "metadata": {},
        "waitingValidation": True,
    }
    return Expect(
        send={
            "source": {"account": source},
            "destination": {"payment": destination},
            "amount": money(),
        },
        activities=[
            ("GetAccount", {"ledger": la, "id": src}),
            tx(la, src, pending, script=True),
            ("CreateTransferInitiation", transfer),
        ],
        balances={(la, src): -A, (la, pending): A},
        transfer={
            **money(),
            "provider": "WISE",
            "type": "TRANSFER",
            "description": "wise TRANSFER",
            "sourceAccountID": "",
            "destinationAccountID": psp_account,
            "status": "WAITING_FOR_VALIDATION",
        },
    )


@case
def account_to_payment_without_the_psp_account_fails(sandbox: SandboxClient, t: str) -> Expect:
    la, _ = ledgers(sandbox, t)
    src = f"users:{t}:src"
    sandbox.fund(la, src, A)
    return Expect(
        send={
            "source": {"account": {"id": src, "ledger": la}},
            "destination": {"payment": {"psp": "stripe"}},
            "amount": money(),
        },
        activities=[("GetAccount", {"ledger": la, "id": src})],  # nothing is debited
        balances={(la, src): A},
        error="expected 'formanceAccountID' metadata containing formance account ID",
    )


def _wallet_to_payment(
    sandbox: SandboxClient, t: str, metadata: dict[str, str], error: str | None = None
) -> Expect:
    wallet, _ = sandbox.wallet(f"{t}-wallet", metadata)
    sandbox.credit(wallet, A)
    transfer = {
        **money(),
        "provider": "modulr",
        "destination": metadata.get("formanceAccountID", ""),
        "type": "TRANSFER",
        "metadata": meta(t),
        "waitingValidation": False,
    }
    activities = [get_wallet(wallet)]
    if error is None:
        activities += [debit(wallet, meta(t)), ("CreateTransferInitiation", transfer)]
    return Expect(
        send={
            "source": {"wallet": {"id": wallet}},
            "destination": {"payment": {"psp": "modulr"}},
            "amount": money(),
            "metadata": meta(t),
        },
        activities=activities,
        balances={in_wallet(wallet): A if error else 0},
        error=error,
        transfer=None
        if error
        else {
            **money(),
            "provider": "MODULR",
            "description": "modulr TRANSFER",
            "destinationAccountID": metadata["formanceAccountID"],
            "metadata": meta(t),
        },
    )


@case
def wallet_to_payment(sandbox: SandboxClient, t: str) -> Expect:
    return _wallet_to_payment(sandbox, t, {"formanceAccountID": f"acct-{t}"})


@case
def wallet_to_payment_without_the_psp_account_fails(sandbox: SandboxClient, t: str) -> Expect:
    error = "expected 'formanceAccountID' metadata containing formance account ID"
    return _wallet_to_payment(sandbox, t, {}, error)


@case
def wallet_to_payment_with_an_empty_psp_account_fails(sandbox: SandboxClient, t: str) -> Expect:
    return _wallet_to_payment(sandbox, t, {"formanceAccountID": ""}, "formance account ID empty")


# -- from a payment (ingestion, 6.2) --------------------------------------------


@case
def payment_to_account_across_ledgers_with_the_payment_amount(
    sandbox: SandboxClient, t: str
) -> Expect:
    _, lb = ledgers(sandbox, t)
    payment, dst = f"pay-{t}", f"users:{t}:dst"
    holding = f"payment:pay_{t}"  # every - of the id becomes _
    sandbox.payment(payment, A)
    return Expect(
        # No amount: the payment's initialAmount and asset.
        send={
            "source": {"payment": {"id": payment}},
            "destination": {"account": {"id": dst, "ledger": lb}},
            "metadata": meta(t),
        },
        activities=[
            ("GetPayment", {"id": payment}),
            tx(INTERNAL, "world", holding, meta(t), reference=holding),
            tx(INTERNAL, holding, "world", meta(t, **{TO: lb})),
            tx(lb, "world", dst, meta(t, **{FROM: INTERNAL})),
        ],
        balances={(INTERNAL, holding): 0, (lb, dst): A},
    )


@case
def payment_to_account_on_its_ingestion_ledger_for_part_of_it(
    sandbox: SandboxClient, t: str
) -> Expect:
    la, _ = ledgers(sandbox, t)
    payment, dst = f"pay-{t}", f"users:{t}:dst"
    holding, psp = f"holding:{t}", f"psp:{t}"
    sandbox.payment(payment, A)
    part = A - 2
    source = {
        "id": payment,
        "ledger": la,
        "holdingAccount": holding,
        "throughAccount": psp,
        "allowOverdraft": True,
    }
    return Expect(
        send={
            "source": {"payment": source},
            "destination": {"account": {"id": dst, "ledger": la}},
            "amount": money(part),
        },
        # Ingestion of the whole payment (overdraft on a through account that
        # is not world), then one transfer of the stage amount.
        activities=[
            ("GetPayment", {"id": payment}),
            tx(la, psp, holding, reference=holding, script=True),
            tx(la, holding, dst, amount=part),
        ],
        balances={(la, psp): -A, (la, holding): 2, (la, dst): part},
    )


@case
def payment_to_account_already_ingested_goes_on(sandbox: SandboxClient, t: str) -> Expect:
    payment, dst = f"pay-{t}", f"users:{t}:dst"
    holding = f"payment:pay_{t}"
    sandbox.payment(payment, A)
    # Ingested before (an earlier stage or run): its reference is taken.
    postings = [{"source": "world", "destination": holding, "amount": A, "asset": ASSET}]
    sandbox.call(
        "POST",
        f"/api/ledger/v2/{INTERNAL}/transactions",
        {"postings": postings, "reference": holding},
    )
    return Expect(
        send={
            "source": {"payment": {"id": payment}},
            "destination": {"account": {"id": dst, "ledger": INTERNAL}},
            "amount": money(),
        },
        activities=[
            ("GetPayment", {"id": payment}),
            tx(INTERNAL, "world", holding, reference=holding),
            tx(INTERNAL, holding, dst),
        ],
        balances={(INTERNAL, holding): 0, (INTERNAL, dst): A},
        tolerated={1: f"reference {holding!r} already used"},
    )


@case
def payment_to_wallet(sandbox: SandboxClient, t: str) -> Expect:
    payment = f"pay-{t}"
    holding = f"payment:pay_{t}"
    sandbox.payment(payment, A)
    wallet, _ = sandbox.wallet(f"{t}-wallet")
    return Expect(
        send={
            "source": {"payment": {"id": payment}},
            "destination": {"wallet": {"id": wallet}},
            "amount": money(),
            "metadata": meta(t),
        },
        activities=[
            ("GetPayment", {"id": payment}),
            tx(INTERNAL, "world", holding, meta(t), reference=holding),
            get_wallet(wallet),
            tx(INTERNAL, holding, "world", meta(t, **{TO: WALLETS})),
            credit(wallet, meta(t, **{FROM: INTERNAL}), [account("world")]),
        ],
        balances={(INTERNAL, holding): 0, in_wallet(wallet): A},
    )


@case
def payment_to_payment_fails(sandbox: SandboxClient, t: str) -> Expect:
    payment = f"pay-{t}"
    sandbox.payment(payment, A)
    return Expect(
        send={
            "source": {"payment": {"id": payment}},
            "destination": {"payment": {"psp": "stripe"}},
        },
        activities=[],
        balances={(INTERNAL, f"payment:pay_{t}"): 0},
        error="send from payment to payment is not supported",
    )


@case
def payment_unknown_fails_naming_it(sandbox: SandboxClient, t: str) -> Expect:
    payment, dst = f"pay-{t}", f"users:{t}:dst"
    failure = (
        f"unexpected status 404 from GET /api/payments/payments/{payment}: "
        f"NOT_FOUND: payment {payment} not found"
    )
    return Expect(
        send={
            "source": {"payment": {"id": payment}},
            "destination": {"account": {"id": dst, "ledger": INTERNAL}},
        },
        activities=[("GetPayment", {"id": payment})],
        balances={(INTERNAL, dst): 0},
        error=f"retrieving payment: {payment}: {failure}",  # 8.3
        failed=failure,
        config={"activityMaxAttempts": 1},
    )


# -- running them ---------------------------------------------------------------


@dataclass
class Matrix:
    stack: Stack
    sandbox: SandboxClient
    runs: dict[str, tuple[str, Expect]]


@pytest.fixture(scope="module")
def matrix(module_launcher: Launcher) -> Iterator[Matrix]:
    stack, url = module_launcher.stack_on_sandbox("matrix")
    with httpx.Client(base_url=url, timeout=30) as http, stack.client() as client:
        sandbox = SandboxClient(http)
        sandbox.ledger(INTERNAL)
        runs: dict[str, tuple[str, Expect]] = {}
        for number, (name, seed) in enumerate(CASES.items()):
            expect = seed(sandbox, f"c{number:02d}")
            stages = [{"send": expect.send}]
            runs[name] = (start_instance(client, stages, **expect.config), expect)
        yield Matrix(stack, sandbox, runs)


@pytest.mark.parametrize("name", list(CASES))
def test_send(matrix: Matrix, name: str) -> None:
    instance_id, expect = matrix.runs[name]
    with matrix.stack.client() as client:
        done = terminated(client, instance_id)
        rows = stage_history(client, instance_id, 0)
        [entry] = history(client, instance_id)
    assert done["terminated"] is True, done
    assert done.get("error") == expect.error
    assert done["status"][0].get("error") == expect.error
    assert (entry["name"], entry["terminated"], entry.get("error")) == (
        "RunSend",
        True,
        expect.error,
    )

    # The activities of 6.2, in order, with the inputs of 7.2; all ended.
    assert [r["name"] for r in rows] == [n for n, _ in expect.activities]
    references = []
    for position, (row, (activity, wanted)) in enumerate(zip(rows, expect.activities, strict=True)):
        got = dict(row["input"][activity])
        if activity == "CreateTransferInitiation":
            references.append(got.pop("reference"))  # unique per call, the same on a retry
        assert got == wanted, (position, activity)
        assert row["terminated"] is True
        last = position == len(rows) - 1
        error = expect.tolerated.get(position) or (expect.failed if last else None)
        assert row.get("error") == error, (position, row)
        if activity == "CreateTransaction" and error is None:
            # 7.2: the ledger's transaction, reshaped to the v1 list form.
            [posted] = row["output"]["CreateTransaction"]["data"]
            assert posted["txid"] == posted["id"]
            assert posted["metadata"] == wanted["Data"].get("metadata", {})
            if "postings" in wanted["Data"]:
                assert posted["postings"] == wanted["Data"]["postings"]

    # Where the money is, exactly.
    balances = {where: matrix.sandbox.balance(*where) for where in expect.balances}
    assert balances == expect.balances

    if expect.transfer is not None:
        [reference] = references
        [transfer] = matrix.sandbox.transfers(reference=reference)
        assert {k: transfer[k] for k in expect.transfer} == expect.transfer
    else:
        assert references == []
