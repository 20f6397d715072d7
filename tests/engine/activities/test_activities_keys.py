"""Idempotency keys: format, stability, uniqueness, and where HttpStack sends them."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest

from engine.activities import MUTATING, idempotency_key
from tests.engine.activities.fake_stack import FakeStack, Seen, reply

pytestmark = pytest.mark.unit

INSTANCE = "0b6c1f9e-7a52-4c1e-9d0e-5f3a2b1c4d6e"


def test_the_plain_format() -> None:
    assert idempotency_key("prod-eu", INSTANCE, 2, 1) == f"prod-eu:{INSTANCE}:2:1"


def test_the_same_activity_always_gets_the_same_key() -> None:
    keys = {idempotency_key("s", INSTANCE, 3, 0) for _ in range(100)}
    assert keys == {f"s:{INSTANCE}:3:0"}


def test_keys_differ_across_stacks_instances_stages_and_sequences() -> None:
    instances = [str(uuid.uuid4()) for _ in range(20)]
    combos = list(itertools.product(["s1", "s2"], instances, range(10), range(10)))
    assert len({idempotency_key(*combo) for combo in combos}) == len(combos) == 4000


def test_parts_that_could_run_together_are_hashed() -> None:
    # "a:b" + "c" and "a" + "b:c" would print alike; the hash keeps them apart.
    one, two = idempotency_key("a:b", "c", 0, 0), idempotency_key("a", "b:c", 0, 0)
    assert one != two
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", one)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", two)
    assert idempotency_key("a:b", "c", 0, 0) == one


def test_long_keys_are_hashed_to_a_fixed_length() -> None:
    key = idempotency_key("s", "i" * 200, 0, 0)
    assert len(key) == 71
    assert key != idempotency_key("s", "i" * 201, 0, 0)
    assert len(idempotency_key("s" * 60, "i" * 60, 12345, 1)) <= 128  # still plain


def test_negative_positions_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        idempotency_key("s", INSTANCE, -1, 0)


def test_mutating_names() -> None:
    assert (
        frozenset(
            {
                "AddAccountMetadata",
                "CreateTransaction",
                "CreditWallet",
                "DebitWallet",
                "ConfirmHold",
                "VoidHold",
                "CreateTransferInitiation",
                "StripeTransfer",
            }
        )
        == MUTATING
    )


async def test_retries_of_a_call_send_the_same_key_and_reads_send_none() -> None:
    def handler(seen: Seen) -> object:
        if seen.method == "GET":
            return reply(200, {"data": {"id": "w"}})
        return reply(204)

    fake = FakeStack(handler)
    stack = fake.stack()
    key = idempotency_key("s", INSTANCE, 0, 1)
    credit = {
        "id": "w",
        "data": {"amount": {"amount": 1, "asset": "X"}, "metadata": {}, "sources": None},
    }
    for _ in range(3):
        await stack.call("CreditWallet", credit, idempotency_key=key)
    await stack.call("GetWallet", {"id": "w"}, idempotency_key=key)
    assert [s.headers.get("idempotency-key") for s in fake.seen] == [key, key, key, None]
