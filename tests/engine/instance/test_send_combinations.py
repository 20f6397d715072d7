"""``send`` by source/destination combination (BEHAVIOUR 6.2-6.4): activity order and requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.activities import idempotency_key
from engine.commands import StartInstance
from engine.instance import (
    ActivityFailed,
    ActivitySucceeded,
    CallActivity,
    EmitHistory,
    InstanceState,
    Outcome,
    SetTimer,
    Start,
    TimerFired,
    step,
)
from streams import codec

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)
STACK = "stack1"
INSTANCE = "inst1"
WALLET = {"id": "w1", "name": "user:1", "ledger": "wallets", "metadata": {}}
AMOUNT = {"amount": 1500, "asset": "EUR/2"}
BIG = 10**30  # amounts stay exact ints of any size


def start(send: dict[str, Any]) -> Outcome:
    command = StartInstance(
        id="cmd1",
        instance_id=INSTANCE,
        workflow_id="wf1",
        config={"name": "w", "stages": [{"send": send}]},
        variables={},
        created_at="2025-03-04T10:00:00Z",
    )
    return step(None, Start(command, STACK, T0))


def only_call(outcome: Outcome) -> CallActivity:
    (call,) = [e for e in outcome.effects if isinstance(e, CallActivity)]
    return call


def drive(
    send: dict[str, Any], outputs: dict[str, dict[str, Any] | None] | None = None
) -> tuple[list[tuple[str, dict[str, Any]]], InstanceState]:
    """Run the stage, answering each call with ``outputs[name]`` (None by default)."""
    answers = outputs or {}
    outcome = start(send)
    seen: list[tuple[str, dict[str, Any]]] = []
    while outcome.state is not None and not outcome.state.terminated:
        call = only_call(outcome)
        seen.append((call.name, call.request))
        # Each call's key is its position in the stage (stage 0).
        position = len(seen) - 1
        assert call.activity_id == f"{INSTANCE}:0:{position}"
        assert call.idempotency_key in (None, idempotency_key(STACK, INSTANCE, 0, position))
        outcome = step(
            outcome.state, ActivitySucceeded(call.activity_id, answers.get(call.name), T0)
        )
    assert outcome.state is not None
    return seen, outcome.state


def names(seen: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in seen]


def test_account_to_wallet_on_the_wallet_ledger_is_one_credit_from_the_account() -> None:
    send = {
        "source": {"account": {"id": "users:1", "ledger": "wallets"}},
        "destination": {"wallet": {"id": "w1", "balance": "savings"}},
        "amount": AMOUNT,
        "metadata": {"k": "v"},
    }
    seen, state = drive(send, {"GetWallet": {"data": WALLET}})
    assert state.error is None
    assert seen == [
        ("GetWallet", {"id": "w1"}),
        (
            "CreditWallet",
            {
                "id": "w1",
                "data": {
                    "amount": AMOUNT,
                    "balance": "savings",
                    "metadata": {"k": "v"},
                    "sources": [{"identifier": "users:1", "type": "ACCOUNT"}],
                },
            },
        ),
    ]


def test_account_to_wallet_on_another_ledger_moves_through_the_bridge() -> None:
    send = {
        "source": {"account": {"id": "users:1", "ledger": "main", "allowOverdraft": True}},
        "destination": {"wallet": {"name": "user:1"}},
        "amount": AMOUNT,
    }
    listed = {"cursor": {"hasMore": False, "data": [WALLET]}}
    seen, state = drive(send, {"ListWallets": listed})
    assert state.error is None
    assert seen == [
        ("ListWallets", {"name": "user:1"}),
        (
            "CreateTransaction",
            {
                "Ledger": "main",
                "Data": {
                    "script": {
                        "plain": "send [EUR/2 1500] (\n"
                        "  source = @users:1 allowing unbounded overdraft\n"
                        "  destination = @world\n)"
                    },
                    "metadata": {"orchestration/move-to-ledger": "wallets"},
                },
            },
        ),
        (
            "CreditWallet",
            {
                "id": "w1",
                "data": {
                    "amount": AMOUNT,
                    "balance": "main",
                    "metadata": {"orchestration/move-from-ledger": "main"},
                    "sources": [{"identifier": "world", "type": "ACCOUNT"}],
                },
            },
        ),
    ]


@pytest.mark.parametrize(
    ("listed", "error"),
    [([], "wallet not found"), ([WALLET, WALLET], "found multiple wallets with the same name")],
)
def test_wallet_named_by_a_name_must_be_unique(listed: list[Any], error: str) -> None:
    send = {
        "source": {"wallet": {"name": "user:1"}},
        "destination": {"account": {"id": "b"}},
        "amount": AMOUNT,
    }
    seen, state = drive(send, {"ListWallets": {"cursor": {"data": listed}}})
    assert names(seen) == ["ListWallets"]
    assert state.error == error


def test_wallet_to_account_on_the_wallet_ledger_debits_to_the_account() -> None:
    send = {
        "source": {"wallet": {"id": "w1", "balance": "savings"}},
        "destination": {"account": {"id": "users:2", "ledger": "wallets"}},
        "amount": {"amount": BIG, "asset": "EUR/2"},
        "timestamp": "2025-03-04T09:00:00Z",
    }
    seen, state = drive(send, {"GetWallet": {"data": WALLET}})
    assert state.error is None
    assert seen == [
        ("GetWallet", {"id": "w1"}),
        (
            "DebitWallet",
            {
                "id": "w1",
                "data": {
                    "amount": {"amount": BIG, "asset": "EUR/2"},
                    "balances": ["savings"],
                    "destination": {"identifier": "users:2", "type": "ACCOUNT"},
                    "metadata": None,  # the stage metadata as given: absent is null
                    "timestamp": "2025-03-04T09:00:00Z",
                },
            },
        ),
    ]


def test_wallet_to_account_on_another_ledger_debits_then_posts_from_the_bridge() -> None:
    send = {
        "source": {"wallet": {"id": "w1"}},
        "destination": {
            "account": {
                "id": "users:2",
                "ledger": "main",
                "throughAccount": "bank",
                "allowOverdraft": True,
            }
        },
        "amount": AMOUNT,
        "metadata": {"k": "v"},
    }
    seen, state = drive(send, {"GetWallet": {"data": WALLET}})
    assert state.error is None
    assert seen[1:] == [
        (
            "DebitWallet",
            {
                "id": "w1",
                "data": {
                    "amount": AMOUNT,
                    "balances": ["main"],
                    "metadata": {"k": "v", "orchestration/move-to-ledger": "main"},
                },
            },
        ),
        (
            "CreateTransaction",
            {
                "Ledger": "main",
                "Data": {
                    "script": {
                        "plain": "send [EUR/2 1500] (\n"
                        "  source = @bank allowing unbounded overdraft\n"
                        "  destination = @users:2\n)"
                    },
                    "metadata": {"k": "v", "orchestration/move-from-ledger": "wallets"},
                },
            },
        ),
    ]


def test_wallet_to_wallet_on_one_ledger_credits_from_the_main_balance() -> None:
    send = {
        "source": {"wallet": {"id": "w1", "balance": "savings"}},
        "destination": {"wallet": {"id": "w2", "balance": "gifts"}},
        "amount": AMOUNT,
    }
    other = {**WALLET, "id": "w2"}
    outcome = start(send)
    first = only_call(outcome)
    outcome = step(outcome.state, ActivitySucceeded(first.activity_id, {"data": WALLET}, T0))
    second = only_call(outcome)
    assert (second.name, second.request) == ("GetWallet", {"id": "w2"})
    outcome = step(outcome.state, ActivitySucceeded(second.activity_id, {"data": other}, T0))
    credit = only_call(outcome)
    assert (credit.name, credit.request) == (
        "CreditWallet",
        {
            "id": "w2",
            "data": {
                "amount": AMOUNT,
                "balance": "gifts",
                "metadata": {},
                # source.balance is ignored here (6.2).
                "sources": [{"balance": "main", "identifier": "w1", "type": "WALLET"}],
            },
        },
    )


def test_wallet_to_wallet_across_ledgers_debits_then_credits_without_sources() -> None:
    send = {
        "source": {"wallet": {"id": "w1", "balance": "savings"}},
        "destination": {"wallet": {"id": "w2"}},
        "amount": AMOUNT,
    }
    outcome = start(send)
    answers = [{"data": WALLET}, {"data": {**WALLET, "id": "w2", "ledger": "other"}}, None, None]
    seen = []
    for answer in answers:
        call = only_call(outcome)
        seen.append((call.name, call.request))
        outcome = step(outcome.state, ActivitySucceeded(call.activity_id, answer, T0))
    assert outcome.state is not None
    assert outcome.state.terminated
    assert outcome.state.error is None
    assert seen[2:] == [
        (
            "DebitWallet",
            {
                "id": "w1",
                "data": {
                    "amount": AMOUNT,
                    "balances": ["savings"],
                    "metadata": {"orchestration/move-to-ledger": "other"},
                },
            },
        ),
        (
            "CreditWallet",
            {
                "id": "w2",
                "data": {
                    "amount": AMOUNT,
                    "balance": "main",
                    "metadata": {"orchestration/move-from-ledger": "wallets"},
                    "sources": None,
                },
            },
        ),
    ]


PSP = {
    "psp": "stripe",
    "type": "payout",
    "sourceAccount": "acc_src",
    "connectorId": "conn_1",
    "waitingValidation": True,
}


def test_account_to_payment_reads_the_psp_account_debits_then_initiates() -> None:
    send = {
        "source": {"account": {"id": "users:1", "ledger": "main"}},
        "destination": {"payment": PSP},
        "amount": AMOUNT,
        "metadata": {"k": "v"},
    }
    account = {"data": {"address": "users:1", "metadata": {"formanceAccountID": "acct_9"}}}
    seen, state = drive(send, {"GetAccount": account})
    assert state.error is None
    assert seen == [
        ("GetAccount", {"ledger": "main", "id": "users:1"}),
        (
            "CreateTransaction",
            {
                "Ledger": "main",
                "Data": {
                    "postings": [{**AMOUNT, "destination": "world", "source": "users:1"}],
                    "metadata": {"k": "v"},
                },
            },
        ),
        (
            "CreateTransferInitiation",
            {
                **AMOUNT,
                "connectorID": "conn_1",
                "provider": "stripe",
                "destination": "acct_9",
                "source": "acc_src",
                "type": "PAYOUT",
                "metadata": {"k": "v"},
                "waitingValidation": True,
                "reference": idempotency_key(STACK, INSTANCE, 0, 2),
            },
        ),
    ]


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({}, "expected 'formanceAccountID' metadata containing formance account ID"),
        ({"formanceAccountID": ""}, "formance account ID empty"),
    ],
)
def test_account_to_payment_needs_the_psp_account_in_metadata(
    metadata: dict[str, str], error: str
) -> None:
    send = {
        "source": {"account": {"id": "users:1"}},
        "destination": {"payment": {"psp": "stripe"}},
        "amount": AMOUNT,
    }
    seen, state = drive(send, {"GetAccount": {"data": {"metadata": metadata}}})
    assert names(seen) == ["GetAccount"]  # nothing is debited
    assert state.error == error


@pytest.mark.parametrize(
    ("send", "error"),
    [
        (
            {
                "source": {"payment": {"id": "pay-9"}},
                "destination": {"account": {"id": "users:2"}},
            },
            "retrieving payment: pay-9: unexpected status 404",
        ),
        (
            {
                "source": {"account": {"id": "users:1", "ledger": "main"}},
                "destination": {"payment": {"psp": "stripe"}},
                "amount": AMOUNT,
            },
            "reading account: users:1: unexpected status 404",
        ),
    ],
)
def test_a_failed_read_names_what_the_stage_was_reading(send: dict[str, Any], error: str) -> None:
    # 8.3: the stage error says which payment or account it could not read;
    # the activity's own history entry keeps the bare failure.
    outcome = start(send)
    call = only_call(outcome)
    failure = ActivityFailed(call.activity_id, "", "unexpected status 404", False, T0)
    outcome = step(outcome.state, failure)
    assert outcome.state is not None
    assert outcome.state.terminated
    assert outcome.state.error == error
    [activity] = [
        e.record
        for e in outcome.effects
        if isinstance(e, EmitHistory) and e.record["type"] == "activity.history"
    ]
    assert activity["error"] == "unexpected status 404"


def test_wallet_to_payment_reads_the_wallet_metadata_debits_then_initiates() -> None:
    send = {
        "source": {"wallet": {"id": "w1"}},
        "destination": {"payment": {"psp": "wise", "metadata": "wiseID"}},
        "amount": AMOUNT,
    }
    wallet = {**WALLET, "metadata": {"wiseID": "acct_w"}}
    seen, state = drive(send, {"GetWallet": {"data": wallet}})
    assert state.error is None
    assert seen[1:] == [
        (
            "DebitWallet",
            {"id": "w1", "data": {"amount": AMOUNT, "balances": ["main"], "metadata": {}}},
        ),
        (
            "CreateTransferInitiation",
            {
                **AMOUNT,
                "provider": "wise",
                "destination": "acct_w",
                "type": "TRANSFER",
                "metadata": {},
                "waitingValidation": False,
                "reference": idempotency_key(STACK, INSTANCE, 0, 2),
            },
        ),
    ]


PAYMENT = {"data": {"id": "pay-1", "asset": "USD/2", "initialAmount": BIG, "amount": 5}}


def test_payment_to_account_ingests_the_payment_amount_then_moves_it() -> None:
    send = {
        "source": {"payment": {"id": "pay-1"}},
        "destination": {"account": {"id": "users:2", "ledger": "main"}},
        "metadata": {"k": "v"},
    }
    seen, state = drive(send, {"GetPayment": PAYMENT})
    assert state.error is None
    money = {"amount": BIG, "asset": "USD/2"}  # no stage amount: the payment's
    assert seen == [
        ("GetPayment", {"id": "pay-1"}),
        (
            "CreateTransaction",
            {
                "Ledger": "orchestration-000-internal",
                "Data": {
                    "postings": [{**money, "destination": "payment:pay_1", "source": "world"}],
                    "reference": "payment:pay_1",
                    "metadata": {"k": "v"},
                },
            },
        ),
        (
            "CreateTransaction",
            {
                "Ledger": "orchestration-000-internal",
                "Data": {
                    "postings": [{**money, "destination": "world", "source": "payment:pay_1"}],
                    "metadata": {"k": "v", "orchestration/move-to-ledger": "main"},
                },
            },
        ),
        (
            "CreateTransaction",
            {
                "Ledger": "main",
                "Data": {
                    "postings": [{**money, "destination": "users:2", "source": "world"}],
                    "metadata": {
                        "k": "v",
                        "orchestration/move-from-ledger": "orchestration-000-internal",
                    },
                },
            },
        ),
    ]


def test_payment_ingestion_conflict_is_tolerated_and_the_stage_goes_on() -> None:
    send = {
        "source": {"payment": {"id": "pay-1", "ledger": "main", "holdingAccount": "hold"}},
        "destination": {"account": {"id": "users:2", "ledger": "main"}},
        "amount": AMOUNT,
    }
    outcome = start(send)
    get = only_call(outcome)
    outcome = step(outcome.state, ActivitySucceeded(get.activity_id, PAYMENT, T0))
    ingest = only_call(outcome)
    assert ingest.request["Data"]["reference"] == "hold"
    failure = ActivityFailed(ingest.activity_id, "CONFLICT", "reference used", False, T0)
    outcome = step(outcome.state, failure)
    # Same ledger: one transfer of the stage amount from the holding account.
    move = only_call(outcome)
    assert move.request == {
        "Ledger": "main",
        "Data": {"postings": [{**AMOUNT, "destination": "users:2", "source": "hold"}]},
    }
    failed = [
        e.record
        for e in outcome.effects
        if isinstance(e, EmitHistory) and e.record.get("error") == "reference used"
    ]
    assert len(failed) == 1
    assert failed[0]["type"] == "activity.history"
    outcome = step(outcome.state, ActivitySucceeded(move.activity_id, None, T0))
    assert outcome.state is not None
    assert outcome.state.terminated
    assert outcome.state.error is None


def test_conflict_elsewhere_still_fails_the_stage() -> None:
    send = {
        "source": {"account": {"id": "a"}},
        "destination": {"account": {"id": "b"}},
        "amount": AMOUNT,
    }
    outcome = start(send)
    call = only_call(outcome)
    outcome = step(
        outcome.state, ActivityFailed(call.activity_id, "CONFLICT", "conflict", False, T0)
    )
    assert outcome.state is not None
    assert outcome.state.error == "conflict"


def test_payment_to_wallet_ingests_then_credits_the_wallet() -> None:
    send = {
        "source": {"payment": {"id": "pay-1", "ledger": "wallets", "throughAccount": "psp"}},
        "destination": {"wallet": {"id": "w1"}},
        "amount": AMOUNT,
    }
    seen, state = drive(send, {"GetPayment": PAYMENT, "GetWallet": {"data": WALLET}})
    assert state.error is None
    assert names(seen) == ["GetPayment", "CreateTransaction", "GetWallet", "CreditWallet"]
    assert seen[1][1]["Data"]["postings"] == [
        {"amount": BIG, "asset": "USD/2", "destination": "payment:pay_1", "source": "psp"}
    ]
    # The wallet is on the ingestion ledger: credited straight from the holding account.
    assert seen[3][1]["data"]["amount"] == AMOUNT
    assert seen[3][1]["data"]["sources"] == [{"identifier": "payment:pay_1", "type": "ACCOUNT"}]


def test_state_mid_stage_survives_the_wire_and_asks_the_same_next_call() -> None:
    send = {
        "source": {"wallet": {"id": "w1"}},
        "destination": {"account": {"id": "b", "ledger": "main"}},
        "amount": {"amount": BIG, "asset": "EUR"},
    }
    outcome = start(send)
    get = only_call(outcome)
    done = step(outcome.state, ActivitySucceeded(get.activity_id, {"data": WALLET}, T0))
    assert done.state is not None
    wire = codec.loads(codec.dumps(done.state.to_wire()))
    assert InstanceState.from_wire(wire) == done.state
    assert done.state.outputs == ({"data": WALLET},)
    assert only_call(done).request["data"]["amount"]["amount"] == BIG


def test_retry_of_a_call_built_from_an_output_repeats_it_exactly() -> None:
    send = {
        "source": {"wallet": {"id": "w1"}},
        "destination": {"account": {"id": "b", "ledger": "main"}},
        "amount": AMOUNT,
    }
    outcome = start(send)
    get = only_call(outcome)
    outcome = step(outcome.state, ActivitySucceeded(get.activity_id, {"data": WALLET}, T0))
    debit = only_call(outcome)
    failure = ActivityFailed(debit.activity_id, "INTERNAL", "boom", True, T0)
    outcome = step(outcome.state, failure)
    (timer,) = [e for e in outcome.effects if isinstance(e, SetTimer)]
    outcome = step(outcome.state, TimerFired(timer.timer_id, timer.due))
    assert only_call(outcome) == debit


def test_wallet_source_without_amount_fails_before_any_call() -> None:
    send = {"source": {"wallet": {"id": "w1"}}, "destination": {"account": {"id": "b"}}}
    seen, state = drive(send)
    assert seen == []
    assert state.error == "amount must be specified"
