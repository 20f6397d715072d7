"""The bodies HttpStack sends and the outputs it returns parse with formance-sdk-python's models.

The SDK is generated from the Formance OpenAPI files, so its models are an
independent statement of the wire shapes (required fields, names, types).
"""

from __future__ import annotations

from typing import Any

import pytest
from formance_sdk_python.models import ledger, orchestration, payments, wallets

from tests.engine.activities.fake_stack import FakeStack, Seen, reply

pytestmark = pytest.mark.unit

BIG = 2**80


def ok(seen: Seen) -> Any:
    if seen.path.startswith("/api/payments/transfer-initiations") and seen.method == "GET":
        return reply(200, {"cursor": {"data": []}})
    if seen.path.endswith("/transactions"):
        tx = {**seen.body, "id": 3, "reverted": False, "timestamp": "2025-03-04T10:15:30Z"}
        return reply(200, {"data": tx})
    if "/accounts/" in seen.path and seen.method == "GET":
        vol = {"input": BIG, "output": 1, "balance": BIG - 1}
        account = {"address": "a", "metadata": {}, "volumes": {"EUR/2": vol}}
        return reply(200, {"data": {**account, "balances": {"EUR/2": BIG - 1}}})
    return reply(204)


async def test_transfer_initiation_body() -> None:
    fake = FakeStack(ok)
    request = {
        "amount": BIG,
        "asset": "EUR/2",
        "provider": "stripe",
        "destination": "acct_1",
        "type": "PAYOUT",
        "metadata": {"k": "v"},
        "waitingValidation": True,
        "reference": "exec-07",
    }
    await fake.stack().call("CreateTransferInitiation", request, idempotency_key=None)
    parsed = payments.TransferInitiationRequest.model_validate(fake.seen[-1].body)
    assert (parsed.amount, parsed.validated, parsed.metadata) == (BIG, False, {"k": "v"})
    assert parsed.scheduled_at.year == 1


async def test_wallet_bodies() -> None:
    fake = FakeStack(ok)
    stack = fake.stack()
    amount = {"amount": BIG, "asset": "EUR/2"}
    sources = [{"identifier": "world", "type": "ACCOUNT"}]
    credit = {"amount": amount, "balance": "main", "metadata": {}, "sources": sources}
    debit = {
        "amount": amount,
        "balances": ["main"],
        "destination": {"identifier": "users:1", "type": "ACCOUNT"},
        # Stages may send null here (7.2) and the wallets service takes it;
        # the SDK's model is stricter, so the shape check uses a map.
        "metadata": {},
    }
    await stack.call("CreditWallet", {"id": "w", "data": credit}, idempotency_key="k1")
    await stack.call("DebitWallet", {"id": "w", "data": debit}, idempotency_key="k2")
    parsed_credit = wallets.CreditWalletRequest.model_validate(fake.seen[0].body)
    parsed_debit = wallets.DebitWalletRequest.model_validate(fake.seen[1].body)
    assert parsed_credit.amount.amount == parsed_debit.amount.amount == BIG


async def test_transaction_body_and_output() -> None:
    fake = FakeStack(ok)
    posting = {"amount": BIG, "asset": "EUR/2", "source": "world", "destination": "a"}
    request = {"Ledger": "main", "Data": {"postings": [posting], "metadata": {"m": "1"}}}
    out = await fake.stack().call("CreateTransaction", request, idempotency_key="k")
    assert ledger.V2PostTransaction.model_validate(fake.seen[0].body).postings[0].amount == BIG
    assert out is not None
    parsed = orchestration.Transaction.model_validate(out["data"][0])
    assert (parsed.id, parsed.postings[0].amount) == (3, BIG)
    assert out["data"][0]["txid"] == 3  # upstream's v1 artefact, unknown to the SDK


async def test_account_output() -> None:
    fake = FakeStack(ok)
    out = await fake.stack().call("GetAccount", {"ledger": "main", "id": "a"}, idempotency_key=None)
    parsed = orchestration.AccountResponse.model_validate(out)
    assert parsed.data.volumes["EUR/2"].balance == BIG - 1
