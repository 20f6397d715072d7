"""The sandbox's wallet rules as pure domain logic over a sandbox ledger."""

from __future__ import annotations

import pytest

from compose.sandbox.ledger import Ledgers, SandboxError
from compose.sandbox.wallets import Wallets

pytestmark = pytest.mark.unit

BIG = 2**70


def wallets() -> Wallets:
    ledgers = Ledgers()
    ledgers.create("wallets-002", None)
    return Wallets(ledgers.get("wallets-002"))


def test_debit_drains_the_balances_in_the_order_given() -> None:
    w = wallets()
    wid = w.create({"name": "w"})["id"]
    w.create_balance(wid, {"name": "savings"})
    money = {"amount": BIG, "asset": "EUR"}
    w.credit(wid, {"amount": money, "balance": "main", "sources": None})
    w.credit(wid, {"amount": money, "balance": "savings", "sources": None})
    w.debit(wid, {"amount": {"amount": BIG + 5, "asset": "EUR"}, "balances": ["main", "savings"]})
    assert w.balance(wid, "main")["assets"] == {"EUR": 0}
    assert w.balance(wid, "savings")["assets"] == {"EUR": BIG - 5}
    assert w.ledger.account("world")["balances"] == {"EUR": -BIG + 5}


def test_a_partial_confirm_leaves_the_rest_held_and_final_returns_it() -> None:
    w = wallets()
    wid = w.create({"name": "w"})["id"]
    w.credit(wid, {"amount": {"amount": 10, "asset": "EUR"}})
    hold = w.debit(wid, {"amount": {"amount": 10, "asset": "EUR"}, "pending": True})
    assert hold is not None
    w.confirm(hold["id"], {"amount": 3})
    assert w.hold(hold["id"])["remaining"] == 7
    w.confirm(hold["id"], {"amount": 2, "final": True})
    assert w.hold(hold["id"])["remaining"] == 0
    assert w.balance(wid, "main")["assets"] == {"EUR": 5}
    assert w.ledger.account("world")["balances"] == {"EUR": -5}
    with pytest.raises(SandboxError) as closed:
        w.void(hold["id"])
    assert closed.value.code == "HOLD_CLOSED"


def test_a_refused_debit_moves_nothing() -> None:
    w = wallets()
    wid = w.create({"name": "w"})["id"]
    w.credit(wid, {"amount": {"amount": 4, "asset": "EUR"}})
    with pytest.raises(SandboxError) as refused:
        w.debit(wid, {"amount": {"amount": 5, "asset": "EUR"}})
    assert (refused.value.status, refused.value.code) == (400, "INSUFFICIENT_FUND")
    assert w.balance(wid, "main")["assets"] == {"EUR": 4}
    assert len(w.ledger.transactions) == 1


def test_credit_sources_pay_in_order_and_a_short_list_is_refused() -> None:
    w = wallets()
    a = w.create({"name": "a"})["id"]
    b = w.create({"name": "b"})["id"]
    w.credit(a, {"amount": {"amount": BIG, "asset": "EUR"}})
    sources = [
        {"type": "WALLET", "identifier": a, "balance": "main"},
        {"type": "ACCOUNT", "identifier": "world"},
    ]
    w.credit(b, {"amount": {"amount": BIG + 2, "asset": "EUR"}, "sources": sources})
    assert w.balance(a, "main")["assets"] == {"EUR": 0}
    assert w.balance(b, "main")["assets"] == {"EUR": BIG + 2}
    assert w.ledger.account("world")["balances"] == {"EUR": -BIG - 2}
    with pytest.raises(SandboxError) as refused:
        w.credit(a, {"amount": {"amount": 1, "asset": "EUR"}, "sources": sources[:1]})
    assert refused.value.code == "INSUFFICIENT_FUND"
