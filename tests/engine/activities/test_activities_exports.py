"""The activity catalogue and port signature, pinned (exports: tests/test_public_surface.py)."""

from __future__ import annotations

import pytest

import engine.activities as activities

pytestmark = pytest.mark.unit


def test_catalogue() -> None:
    assert (
        frozenset(
            {
                "GetAccount",
                "AddAccountMetadata",
                "CreateTransaction",
                "GetWallet",
                "ListWallets",
                "CreditWallet",
                "DebitWallet",
                "ConfirmHold",
                "VoidHold",
                "GetPayment",
                "CreateTransferInitiation",
                "StripeTransfer",
            }
        )
        == activities.ACTIVITY_NAMES
    )
    assert activities.MUTATING < activities.ACTIVITY_NAMES


def test_http_stack_has_the_port_signature() -> None:
    import inspect

    port = inspect.signature(activities.Stack.call)
    real = inspect.signature(activities.HttpStack.call)
    assert list(port.parameters) == list(real.parameters)
    assert real.parameters["idempotency_key"].kind is inspect.Parameter.KEYWORD_ONLY
