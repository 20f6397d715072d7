"""HttpStack request building and output shapes, per activity of BEHAVIOUR 7.2 (and 6.4)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.activities import ActivityFailure
from streams import codec
from tests.engine.activities.fake_stack import FakeStack, Seen, reply

pytestmark = pytest.mark.unit

BIG = 2**80 + 7  # beyond 64 bits: must survive both directions exactly
WALLET = "7c0e6a51-3f7e-4f0a-9b5e-2d1c0a9b8e7f"


def answering(body: Any, status: int = 200) -> FakeStack:
    return FakeStack(lambda seen: reply(status, body))


async def test_get_account_reads_the_v1_account_and_keeps_four_fields() -> None:
    account = {
        "address": "users:042",
        "metadata": {"formanceAccountID": "acct_1"},
        "volumes": {"EUR/2": {"input": BIG, "output": 1500, "balance": BIG - 1500}},
        "balances": {"EUR/2": BIG - 1500},
        "effectiveVolumes": {"ignored": True},
    }
    fake = answering({"data": account})
    out = await fake.stack().call(
        "GetAccount", {"ledger": "main", "id": "users:042"}, idempotency_key=None
    )
    (seen,) = fake.seen
    assert (seen.method, seen.path, seen.raw) == ("GET", "/api/ledger/main/accounts/users:042", b"")
    assert "idempotency-key" not in seen.headers
    assert out == {
        "data": {
            "address": "users:042",
            "metadata": {"formanceAccountID": "acct_1"},
            "volumes": {"EUR/2": {"input": BIG, "output": 1500, "balance": BIG - 1500}},
            "balances": {"EUR/2": BIG - 1500},
        }
    }
    assert type(out["data"]["balances"]["EUR/2"]) is int


async def test_path_segments_are_escaped_like_go_path_escape() -> None:
    fake = answering({"data": {"address": "a"}})
    await fake.stack().call(
        "GetAccount", {"ledger": "my ledger", "id": "users:042/x?y"}, idempotency_key=None
    )
    assert fake.seen[0].path == "/api/ledger/my%20ledger/accounts/users:042%2Fx%3Fy"


async def test_add_account_metadata_posts_the_map_with_the_key() -> None:
    fake = FakeStack()
    out = await fake.stack().call(
        "AddAccountMetadata",
        {"ledger": "main", "account": "users:042", "metadata": {"tier": "gold"}},
        idempotency_key="s:i:0:0",
    )
    (seen,) = fake.seen
    assert out is None
    assert (seen.method, seen.path) == ("POST", "/api/ledger/v2/main/accounts/users:042/metadata")
    assert seen.body == {"tier": "gold"}
    assert seen.headers["idempotency-key"] == "s:i:0:0"
    assert seen.headers["content-type"] == "application/json"


TX_ANSWER = {
    "data": {
        "id": 57,
        "postings": [
            {"amount": BIG, "asset": "EUR/2", "destination": "payment:pay_123", "source": "world"}
        ],
        "metadata": {"order": "A-17"},
        "reference": "payment:pay_123",
        "reverted": False,
        "timestamp": "2025-03-04T10:15:30.4Z",
        "insertedAt": "2025-03-04T10:15:30.4Z",
        "postCommitVolumes": {"world": {"EUR/2": {"input": 0, "output": BIG}}},
    }
}


async def test_create_transaction_posts_v2_and_answers_the_v1_list_form() -> None:
    fake = answering(TX_ANSWER)
    request = {
        "Ledger": "orchestration-000-internal",
        "Data": {
            "postings": [
                {
                    "amount": BIG,
                    "asset": "EUR/2",
                    "destination": "payment:pay_123",
                    "source": "world",
                }
            ],
            "reference": "payment:pay_123",
            "metadata": {"order": "A-17"},
        },
    }
    out = await fake.stack().call("CreateTransaction", request, idempotency_key="k-1")
    (seen,) = fake.seen
    assert (seen.method, seen.path) == (
        "POST",
        "/api/ledger/v2/orchestration-000-internal/transactions",
    )
    assert seen.headers["idempotency-key"] == "k-1"
    assert seen.body == request["Data"]
    assert str(BIG).encode() in seen.raw  # an exact integer on the wire, not a float
    assert out == {
        "data": [
            {
                "id": 57,
                "txid": 57,
                "postings": TX_ANSWER["data"]["postings"],
                "metadata": {"order": "A-17"},
                "reference": "payment:pay_123",
                "reverted": False,
                "timestamp": "2025-03-04T10:15:30.4Z",
            }
        ]
    }


async def test_create_transaction_with_a_script_leaves_out_the_unset_fields() -> None:
    answer = {"data": {**TX_ANSWER["data"], "reference": None}}
    fake = answering(answer)
    script = (
        "send [EUR/2 1500] (\n  source = @a allowing unbounded overdraft\n  destination = @b\n)"
    )
    data = {"postings": [], "script": {"plain": script}, "metadata": {}, "reference": None}
    out = await fake.stack().call(
        "CreateTransaction", {"Ledger": "main", "Data": data}, idempotency_key="k"
    )
    assert fake.seen[0].body == {"script": {"plain": script}}
    assert out is not None
    assert "reference" not in out["data"][0]


async def test_create_transaction_accepts_the_openapi_lower_case_keys() -> None:
    fake = answering(TX_ANSWER)
    data = {"postings": [{"amount": 1, "asset": "X", "source": "world", "destination": "a"}]}
    await fake.stack().call(
        "CreateTransaction", {"ledger": "main", "data": data}, idempotency_key="k"
    )
    assert fake.seen[0].path == "/api/ledger/v2/main/transactions"


async def test_get_wallet_and_list_wallets_pass_the_envelopes_through() -> None:
    wallet = {
        "id": WALLET,
        "name": "user:1",
        "ledger": "wallets-ledger",
        "metadata": {},
        "createdAt": "2025-03-01T09:00:00Z",
        "balances": {"main": {"assets": {"EUR/2": BIG}}},
    }
    cursor = {"pageSize": 15, "hasMore": False, "data": [wallet]}

    def handler(seen: Seen) -> Any:
        return reply(200, {"data": wallet} if seen.path.endswith(WALLET) else {"cursor": cursor})

    fake = FakeStack(handler)
    stack = fake.stack()
    assert await stack.call("GetWallet", {"id": WALLET}, idempotency_key=None) == {"data": wallet}
    assert await stack.call("ListWallets", {"name": "user:1"}, idempotency_key=None) == {
        "cursor": cursor
    }
    assert [(s.method, s.path, s.query) for s in fake.seen] == [
        ("GET", f"/api/wallets/wallets/{WALLET}", {}),
        ("GET", "/api/wallets/wallets", {"name": "user:1"}),
    ]


async def test_credit_wallet_sends_sources_and_metadata_even_when_null() -> None:
    fake = FakeStack()
    data = {
        "amount": {"amount": BIG, "asset": "EUR/2"},
        "balance": None,
        "metadata": {"orchestration/move-from-ledger": "orchestration-000-internal"},
        "sources": None,
    }
    out = await fake.stack().call(
        "CreditWallet", {"id": WALLET, "data": data}, idempotency_key="k-c"
    )
    (seen,) = fake.seen
    assert out is None
    assert (seen.method, seen.path) == ("POST", f"/api/wallets/wallets/{WALLET}/credit")
    assert seen.body == {
        "amount": {"amount": BIG, "asset": "EUR/2"},
        "metadata": {"orchestration/move-from-ledger": "orchestration-000-internal"},
        "sources": None,
    }
    assert seen.headers["idempotency-key"] == "k-c"


async def test_debit_wallet_without_pending_has_no_output() -> None:
    fake = FakeStack(lambda seen: reply(204))
    data = {
        "amount": {"amount": 1500, "asset": "EUR/2"},
        "balances": ["main"],
        "destination": {"identifier": "users:042", "type": "ACCOUNT"},
        "metadata": None,
    }
    out = await fake.stack().call("DebitWallet", {"id": WALLET, "data": data}, idempotency_key="k")
    (seen,) = fake.seen
    assert out is None
    assert (seen.method, seen.path) == ("POST", f"/api/wallets/wallets/{WALLET}/debit")
    assert seen.body == data
    assert seen.headers["idempotency-key"] == "k"


async def test_debit_wallet_pending_answers_the_hold() -> None:
    hold = {"id": "h1", "walletID": WALLET, "description": "", "metadata": {}, "destination": {}}
    fake = answering({"data": hold}, status=201)
    data = {"amount": {"amount": 1, "asset": "X"}, "metadata": {}, "pending": True}
    out = await fake.stack().call("DebitWallet", {"id": WALLET, "data": data}, idempotency_key="k")
    assert out == {"data": hold}


@pytest.mark.parametrize("name", ["ConfirmHold", "VoidHold"])
async def test_holds_post_without_a_body(name: str) -> None:
    fake = FakeStack()
    out = await fake.stack().call(name, {"id": "h1"}, idempotency_key="k-h")
    (seen,) = fake.seen
    verb = "confirm" if name == "ConfirmHold" else "void"
    assert out is None
    assert (seen.method, seen.path, seen.raw) == ("POST", f"/api/wallets/holds/h1/{verb}", b"")
    assert seen.headers["idempotency-key"] == "k-h"


async def test_get_payment() -> None:
    payment = {"id": "pay_123", "asset": "EUR/2", "initialAmount": BIG, "amount": BIG}
    fake = answering({"data": payment})
    out = await fake.stack().call("GetPayment", {"id": "pay_123"}, idempotency_key=None)
    assert fake.seen[0].path == "/api/payments/payments/pay_123"
    assert out == {"data": payment}


TRANSFER = {
    "amount": 1500,
    "asset": "EUR/2",
    "connectorID": "conn_1",
    "provider": "stripe",
    "destination": "acct_1Gqj58KZcSIg2N2q",
    "source": "acc_src",
    "type": "PAYOUT",
    "metadata": {},
    "waitingValidation": False,
    "reference": "5b1e0c2d-0" + "7",
}


def transfers(existing: list[dict[str, Any]]) -> FakeStack:
    def handler(seen: Seen) -> Any:
        if seen.method == "GET":
            return reply(200, {"cursor": {"pageSize": 15, "hasMore": False, "data": existing}})
        return reply(200, {"data": {"id": "ti_1"}})

    return FakeStack(handler)


async def test_transfer_initiation_body_follows_the_6_4_mapping() -> None:
    fake = transfers([])
    out = await fake.stack().call("CreateTransferInitiation", TRANSFER, idempotency_key="k-t")
    lookup, post = fake.seen
    assert out is None
    assert (lookup.method, lookup.path) == ("GET", "/api/payments/transfer-initiations")
    assert codec.loads(lookup.query["query"]) == {"$match": {"reference": "5b1e0c2d-07"}}
    assert (post.method, post.path) == ("POST", "/api/payments/transfer-initiations")
    assert post.body == {
        "amount": 1500,
        "asset": "EUR/2",
        "type": "PAYOUT",
        "sourceAccountID": "acc_src",
        "destinationAccountID": "acct_1Gqj58KZcSIg2N2q",
        "description": "stripe PAYOUT",
        "reference": "5b1e0c2d-07",
        "validated": True,
        "scheduledAt": "0001-01-01T00:00:00Z",
        "provider": "STRIPE",
        "connectorID": "conn_1",
    }


async def test_transfer_initiation_optional_fields() -> None:
    fake = transfers([])
    request = {
        key: value for key, value in TRANSFER.items() if key not in ("connectorID", "source")
    }
    request |= {
        "provider": "",
        "type": "TRANSFER",
        "metadata": {"k": "v"},
        "waitingValidation": True,
    }
    await fake.stack().call("CreateTransferInitiation", request, idempotency_key=None)
    body = fake.seen[1].body
    assert "provider" not in body
    assert "connectorID" not in body
    assert body["sourceAccountID"] == ""
    assert body["description"] == " TRANSFER"
    assert body["validated"] is False
    assert body["metadata"] == {"k": "v"}


async def test_transfer_initiation_already_recorded_is_not_posted_again() -> None:
    fake = transfers([{"id": "ti_1", "reference": TRANSFER["reference"]}])
    out = await fake.stack().call("CreateTransferInitiation", TRANSFER, idempotency_key=None)
    assert out is None
    assert [s.method for s in fake.seen] == ["GET"]


async def test_transfer_lookup_checks_the_reference_itself() -> None:
    # A server that ignores the filter and lists other transfers.
    fake = transfers([{"id": "ti_0", "reference": "someone-else"}])
    await fake.stack().call("CreateTransferInitiation", TRANSFER, idempotency_key=None)
    assert [s.method for s in fake.seen] == ["GET", "POST"]


async def test_stripe_transfer_is_only_a_name_for_old_histories() -> None:
    fake = FakeStack()
    with pytest.raises(ActivityFailure) as caught:
        await fake.stack().call(
            "StripeTransfer",
            {"amount": 1, "asset": "X", "destination": "d", "metadata": {}},
            idempotency_key=None,
        )
    assert caught.value.retryable is False
    assert fake.seen == []


@pytest.mark.parametrize(
    ("name", "request_"),
    [
        ("Nope", {}),
        ("GetWallet", {}),
        ("GetAccount", {"ledger": "main", "id": 42}),
        ("CreateTransaction", {"Ledger": "main", "Data": {"postings": []}}),
        ("CreditWallet", {"id": WALLET}),
        ("CreateTransferInitiation", {**TRANSFER, "amount": "1500"}),
    ],
)
async def test_a_request_that_cannot_be_built_fails_at_once_without_a_call(
    name: str, request_: dict[str, Any]
) -> None:
    fake = FakeStack()
    with pytest.raises(ActivityFailure) as caught:
        await fake.stack().call(name, request_, idempotency_key="k")
    assert caught.value.retryable is False
    assert caught.value.code is None
    assert fake.seen == []


async def test_static_token_is_sent_as_bearer_and_nothing_without_one() -> None:
    fake = answering({"data": {"id": "w"}})
    await fake.stack(stack_token="tok-static").call("GetWallet", {"id": "w"}, idempotency_key=None)
    await fake.stack().call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert fake.seen[0].headers["authorization"] == "Bearer tok-static"
    assert "authorization" not in fake.seen[1].headers


async def test_stack_url_with_a_path_prefix_is_kept() -> None:
    fake = answering({"data": {"id": "w"}})
    stack = fake.stack(stack_url="http://gateway.test/prefix/")
    await stack.call("GetWallet", {"id": "w"}, idempotency_key=None)
    assert fake.seen[0].path == "/prefix/api/wallets/wallets/w"
