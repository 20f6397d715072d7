"""Run-time resolution of the ``send`` stage (BEHAVIOUR.md 4.5, 5.2-5.4, 6.1).

Expected values are written from the spec text, not from the code's output.
"""

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.config import (
    Amount,
    LedgerAccount,
    PaymentDestination,
    PaymentSource,
    Send,
    SendSource,
    StageError,
    StageSpec,
    Wallet,
    resolve_stage,
)

pytestmark = pytest.mark.unit

ACCOUNT = {"account": {"id": "users:001"}}
WALLET = {"wallet": {"id": "w1"}}


def send(**body: Any) -> dict[str, Any]:
    """A send stage with an account source and destination unless overridden."""
    fields: dict[str, Any] = {"source": ACCOUNT, "destination": {"account": {"id": "bank"}}}
    fields.update(body)
    return {"send": fields}


def resolve(stage: dict[str, Any], **variables: str) -> Send:
    resolved = resolve_stage(stage, variables)
    assert isinstance(resolved, Send)
    return resolved


def error_of(stage: dict[str, Any], **variables: str) -> str:
    with pytest.raises(StageError) as caught:
        resolve_stage(stage, variables)
    return caught.value.message


# -- history renderings from the spec -------------------------------------------------


def test_history_example_of_section_4_5() -> None:
    stage = {
        "send": {
            "source": {"account": {"id": "${accountID}", "ledger": "${ledger}"}},
            "destination": {"wallet": {"id": "${walletID}"}},
            "amount": {"amount": "${amount}", "asset": "EUR/2"},
        }
    }
    resolved = resolve(
        stage,
        accountID="users:042",
        ledger="main",
        walletID="7c0e6a51-3f7e-4f0a-9b5e-2d1c0a9b8e7f",
        amount="1500",
    )
    assert resolved.history_name == "RunSend"
    assert resolved.history_input() == {
        "source": {
            "account": {
                "id": "users:042",
                "ledger": "main",
                "throughAccount": "world",
                "allowOverdraft": False,
            }
        },
        "destination": {
            "wallet": {"id": "7c0e6a51-3f7e-4f0a-9b5e-2d1c0a9b8e7f", "name": "", "balance": "main"}
        },
        "amount": {"amount": 1500, "asset": "EUR/2"},
        "timestamp": None,
    }


def test_history_example_of_section_6_1() -> None:
    stage = {
        "send": {
            "source": {"payment": {"id": "${paymentID}"}},
            "destination": {
                "payment": {
                    "psp": "stripe",
                    "type": "PAYOUT",
                    "sourceAccount": "acc_src",
                    "connectorId": "conn_1",
                }
            },
            "amount": {"amount": 1500, "asset": "EUR/2"},
            "metadata": {"order": "${order}"},
        }
    }
    resolved = resolve(stage, paymentID="pay_123", order="A-17")
    assert resolved.history_input() == {
        "source": {
            "payment": {"id": "pay_123", "throughAccount": "world", "allowOverdraft": False}
        },
        "destination": {
            "payment": {
                "psp": "stripe",
                "type": "PAYOUT",
                "sourceAccount": "acc_src",
                "metadata": "formanceAccountID",
                "waitingValidation": False,
                "connectorId": "conn_1",
            }
        },
        "amount": {"amount": 1500, "asset": "EUR/2"},
        "metadata": {"order": "A-17"},
        "timestamp": None,
    }


def test_wallet_renders_id_name_and_balance() -> None:
    resolved = resolve(send(source={"wallet": {"name": "${n}"}}), n="savings")
    assert resolved.history_input()["source"] == {
        "wallet": {"id": "", "name": "savings", "balance": "main"}
    }


def test_unset_amount_and_empty_metadata_are_omitted_timestamp_is_null() -> None:
    rendered = resolve(send(metadata={})).history_input()
    assert "amount" not in rendered
    assert "metadata" not in rendered
    assert rendered["timestamp"] is None
    assert list(rendered) == ["source", "destination", "timestamp"]


def test_timestamp_renders_in_utc() -> None:
    resolved = resolve(send(timestamp="${ts}"), ts="2025-03-04T12:00:00+02:00")
    assert resolved.timestamp == datetime(2025, 3, 4, 10, tzinfo=UTC)
    assert resolved.history_input()["timestamp"] == "2025-03-04T10:00:00Z"


def test_payment_source_renders_ledger_and_holding_account_when_given() -> None:
    source = {"payment": {"id": "p", "ledger": "l", "holdingAccount": "h"}}
    rendered = resolve(send(source=source)).history_input()["source"]
    assert rendered == {
        "payment": {
            "id": "p",
            "ledger": "l",
            "holdingAccount": "h",
            "throughAccount": "world",
            "allowOverdraft": False,
        }
    }


# -- defaults ---------------------------------------------------------------------------


def test_account_defaults() -> None:
    resolved = resolve(send())
    assert resolved.source.account == LedgerAccount(
        id="users:001", ledger="default", through_account="world", allow_overdraft=False
    )


def test_wallet_defaults() -> None:
    assert resolve(send(destination=WALLET)).destination.wallet == Wallet(
        id="w1", name="", balance="main"
    )


def test_payment_destination_defaults() -> None:
    resolved = resolve(send(destination={"payment": {"psp": "stripe"}}))
    assert resolved.destination.payment == PaymentDestination(
        psp="stripe",
        type="TRANSFER",
        source_account=None,
        metadata="formanceAccountID",
        waiting_validation=False,
        connector_id=None,
    )
    assert resolved.history_input()["destination"] == {
        "payment": {
            "psp": "stripe",
            "type": "TRANSFER",
            "metadata": "formanceAccountID",
            "waitingValidation": False,
        }
    }


def test_payment_source_defaults_and_runtime_defaults() -> None:
    payment = resolve(send(source={"payment": {"id": "a-b-c"}})).source.payment
    assert payment == PaymentSource(
        id="a-b-c", ledger="", holding_account="", through_account="world", allow_overdraft=False
    )
    assert payment.ingestion_ledger == "orchestration-000-internal"
    assert payment.holding_account_or_default == "payment:a_b_c"


def test_payment_source_runtime_defaults_yield_to_given_values() -> None:
    payment = resolve(
        send(source={"payment": {"id": "a-b", "ledger": "L", "holdingAccount": "H"}})
    ).source.payment
    assert payment is not None
    assert payment.ingestion_ledger == "L"
    assert payment.holding_account_or_default == "H"


@pytest.mark.parametrize("empty", ["", "${unset}", None])
def test_empty_after_interpolation_gives_the_default(empty: str | None) -> None:
    account = {"id": "a", "ledger": empty, "throughAccount": empty}
    destination = {"payment": {"psp": "x", "type": empty, "metadata": empty}}
    resolved = resolve(send(source={"account": account}, destination=destination))
    assert resolved.source.account is not None
    assert resolved.source.account.ledger == "default"
    assert resolved.source.account.through_account == "world"
    assert resolved.destination.payment is not None
    assert resolved.destination.payment.type == "TRANSFER"
    assert resolved.destination.payment.metadata == "formanceAccountID"


def test_wallet_balance_default_applies_to_empty_variable() -> None:
    resolved = resolve(send(source={"wallet": {"id": "w", "balance": "${balance}"}}))
    assert resolved.source.wallet is not None
    assert resolved.source.wallet.balance == "main"


def test_booleans_default_to_false() -> None:
    resolved = resolve(
        send(
            source={"payment": {"id": "p"}},
            destination={"payment": {"psp": "x", "waitingValidation": None}},
        )
    )
    assert resolved.source.payment is not None
    assert resolved.source.payment.allow_overdraft is False
    assert resolved.destination.payment is not None
    assert resolved.destination.payment.waiting_validation is False


# -- coercion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "variables", "expected"),
    [
        (1500, {}, 1500),
        (100.9, {}, 100),  # truncated toward zero
        (-100.9, {}, -100),
        ("1500", {}, 1500),
        ("${amount}", {"amount": "42"}, 42),
        ("-5", {}, -5),
        ("+5", {}, 5),
        ("${a}${b}", {"a": "1", "b": "0"}, 10),
        ("123456789012345678901234567890", {}, 123456789012345678901234567890),
        (123456789012345678901234567890, {}, 123456789012345678901234567890),
        ("${amount}", {}, None),
        ("", {}, None),
    ],
)
def test_amount_coercion(raw: Any, variables: dict[str, str], expected: int | None) -> None:
    resolved = resolve(send(amount={"amount": raw, "asset": "EUR/2"}), **variables)
    assert resolved.amount == Amount(amount=expected, asset="EUR/2")
    assert resolved.history_input()["amount"] == {"amount": expected, "asset": "EUR/2"}


@pytest.mark.parametrize("literal", ["abc", "1.5", "1e3", " 5", "1_000", "0x10", "\u0663", "--1"])
def test_amount_that_is_not_an_integer(literal: str) -> None:
    message = error_of(send(amount={"amount": "${a}", "asset": "EUR/2"}), a=literal)
    assert message == (
        "resolving field 'Amount': resolving field 'Amount': "
        f"unable to parse '{literal}' as big int"
    )


@pytest.mark.parametrize(
    ("raw", "type_name"), [(True, "bool"), ([1], "[]interface {}"), ({}, "map[string]interface {}")]
)
def test_amount_of_another_type(raw: Any, type_name: str) -> None:
    assert error_of(send(amount={"amount": raw})) == (
        "resolving field 'Amount': resolving field 'Amount': "
        f"expected big int or interpolated string but was {type_name}"
    )


@pytest.mark.parametrize(
    ("raw", "variables", "expected"),
    [
        (True, {}, True),
        (False, {}, False),
        ("true", {}, True),
        ("TRUE", {}, True),
        ("False", {}, False),
        ("${flag}", {"flag": "true"}, True),
        ("${flag}", {"flag": "FALSE"}, False),
    ],
)
def test_boolean_coercion(raw: Any, variables: dict[str, str], expected: bool) -> None:
    resolved = resolve(send(source={"account": {"id": "a", "allowOverdraft": raw}}), **variables)
    assert resolved.source.account is not None
    assert resolved.source.account.allow_overdraft is expected


@pytest.mark.parametrize(
    ("raw", "variables"), [("maybe", {}), ("${flag}", {}), ("", {}), ("1", {})]
)
def test_boolean_that_is_not_true_or_false(raw: str, variables: dict[str, str]) -> None:
    # An empty string is an error too: the default applies only when absent.
    message = error_of(send(source={"account": {"id": "a", "allowOverdraft": raw}}), **variables)
    assert message.startswith(
        "resolving field 'Source': resolving field 'Account': resolving field 'AllowOverdraft': "
    )
    assert "bool" in message


def test_boolean_of_another_type() -> None:
    message = error_of(send(destination={"payment": {"waitingValidation": 1}}))
    assert message.startswith(
        "resolving field 'Destination': resolving field 'Payment': "
        "resolving field 'WaitingValidation': "
    )
    assert message.endswith("but was float64")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"metadata": {"k": 1}},
            "resolving field 'Metadata': expected string but was float64",
        ),
        (
            {"metadata": ["k"]},
            "resolving field 'Metadata': expecting map, got type: []interface {}",
        ),
        (
            {"metadata": "k"},
            "resolving field 'Metadata': expecting map, got type: string",
        ),
        (
            {"timestamp": "yesterday"},
            "resolving field 'Timestamp': expected date as rfc3339 format",
        ),
        (
            {"timestamp": 1700000000},
            "resolving field 'Timestamp': expected string but was float64",
        ),
        (
            {"source": "users:001"},
            "resolving field 'Source': expected map but was string",
        ),
        (
            {"source": None},
            "resolving field 'Source': expected map but was <nil>",
        ),
        (
            {"destination": None},
            "resolving field 'Destination': expected map but was <nil>",
        ),
        (
            {"source": {"account": "users:001"}},
            "resolving field 'Source': resolving field 'Account': expected map but was string",
        ),
        (
            {"source": {"account": {"id": 42}}},
            "resolving field 'Source': resolving field 'Account': resolving field 'ID': "
            "expected string but was float64",
        ),
        (
            {"source": {"wallet": {"id": True}}},
            "resolving field 'Source': resolving field 'Wallet': resolving field 'ID': "
            "expected string but was bool",
        ),
        (
            {"amount": {"amount": 1, "asset": 2}},
            "resolving field 'Amount': resolving field 'Asset': expected string but was float64",
        ),
        (
            {"amount": 1500},
            "resolving field 'Amount': expected map but was float64",
        ),
    ],
)
def test_coercion_errors(body: dict[str, Any], expected: str) -> None:
    assert error_of(send(**body)) == expected


def test_coercion_stops_at_the_first_field_in_upstream_order() -> None:
    # Source comes before Amount upstream, so its error wins.
    stage = send(source={"account": {"id": 1}}, amount={"amount": "abc"})
    assert error_of(stage).startswith("resolving field 'Source'")


def test_missing_source_is_a_coercion_error() -> None:
    stage = {"send": {"destination": {"account": {"id": "bank"}}}}
    assert error_of(stage) == "resolving field 'Source': expected map but was <nil>"


def test_null_body_fails_like_an_empty_one() -> None:
    assert error_of({"send": None}) == "resolving field 'Source': expected map but was <nil>"


# -- interpolation ------------------------------------------------------------------------


def test_several_placeholders_and_unknown_ones() -> None:
    stage = send(source={"account": {"id": "users:${a}:x:${b}${missing}"}})
    resolved = resolve(stage, a="1", b="2")
    assert resolved.source.account is not None
    assert resolved.source.account.id == "users:1:x:2"


def test_metadata_values_are_interpolated_but_not_keys() -> None:
    resolved = resolve(send(metadata={"${k}": "${v}", "fixed": "a-${v}"}), k="key", v="val")
    assert resolved.metadata == {"${k}": "val", "fixed": "a-val"}


def test_metadata_absent_and_empty_differ() -> None:
    assert resolve(send()).metadata is None
    assert resolve(send(metadata={})).metadata == {}
    assert resolve(send(metadata=None)).metadata is None


def test_metadata_null_value_becomes_empty_string() -> None:
    assert resolve(send(metadata={"k": None})).metadata == {"k": ""}


def test_empty_timestamp_is_absent() -> None:
    # Project CHOICE: upstream would use the zero date 0001-01-01.
    resolved = resolve(send(timestamp="${ts}"))
    assert resolved.timestamp is None
    assert resolved.history_input()["timestamp"] is None


# -- presence quirk -----------------------------------------------------------------------


def test_empty_wallet_object_counts_as_chosen() -> None:
    message = error_of(send(source={"wallet": {}}))
    # The one-of rule on the source is satisfied; the wallet's own rule fails.
    assert message == (
        "Key: 'Send.Source.Wallet.id' Error:Field validation for 'id' failed on the "
        "'id or name' tag\n"
        "Key: 'Send.Source.Wallet.name' Error:Field validation for 'name' failed on the "
        "'id or name' tag"
    )


def test_empty_wallet_next_to_an_account_makes_two_alternatives() -> None:
    message = error_of(send(source={"wallet": {}, "account": {"id": "a"}}))
    assert "Key: 'Send.Source.wallet' Error:Field validation for 'wallet' failed" in message


def test_null_alternative_is_not_chosen() -> None:
    resolved = resolve(send(source={"wallet": None, "account": {"id": "a"}, "payment": None}))
    assert resolved.source.wallet is None
    assert resolved.source.payment is None
    assert resolved.source.account is not None


@pytest.mark.parametrize("key", ["sourceAccount", "connectorId"])
def test_mentioned_optional_string_is_sent_even_when_empty(key: str) -> None:
    stage = send(destination={"payment": {"psp": "x", key: "${x}"}})
    rendered = resolve(stage).history_input()["destination"]["payment"]
    assert rendered[key] == ""


@pytest.mark.parametrize("key", ["sourceAccount", "connectorId"])
def test_absent_optional_string_is_omitted(key: str) -> None:
    rendered = resolve(send(destination={"payment": {"psp": "x", key: None}})).history_input()
    assert key not in rendered["destination"]["payment"]


# -- validation ---------------------------------------------------------------------------


def _one_of_lines(namespace: str) -> str:
    tag = "wallet or account or payment"
    return "\n".join(
        f"Key: '{namespace}.{key}' Error:Field validation for '{key}' failed on the '{tag}' tag"
        for key in ("wallet", "account", "payment")
    )


def test_source_needs_one_alternative() -> None:
    assert error_of(send(source={})) == _one_of_lines("Send.Source")


def test_destination_accepts_only_one_alternative() -> None:
    destination = {"account": {"id": "a"}, "payment": {"psp": "x"}}
    assert error_of(send(destination=destination)) == _one_of_lines("Send.Destination")


def test_account_id_is_required() -> None:
    assert error_of(send(source={"account": {"id": "${accountID}"}})) == (
        "Key: 'Send.Source.Account.ID' Error:Field validation for 'ID' failed on the 'required' tag"
    )


def test_payment_source_id_is_required() -> None:
    assert error_of(send(source={"payment": {}})) == (
        "Key: 'Send.Source.Payment.ID' Error:Field validation for 'ID' failed on the 'required' tag"
    )


def test_wallet_with_id_and_name_is_rejected() -> None:
    message = error_of(send(destination={"wallet": {"id": "w", "name": "n"}}))
    assert message.splitlines() == [
        "Key: 'Send.Destination.Wallet.id' Error:Field validation for 'id' failed on the "
        "'id or name' tag",
        "Key: 'Send.Destination.Wallet.name' Error:Field validation for 'name' failed on the "
        "'id or name' tag",
    ]


def test_all_problems_are_reported() -> None:
    message = error_of(send(source={"account": {}}, destination={}))
    assert message.splitlines()[0] == (
        "Key: 'Send.Source.Account.ID' Error:Field validation for 'ID' failed on the 'required' tag"
    )
    assert len(message.splitlines()) == 4


def test_payment_destination_has_no_required_field() -> None:
    resolved = resolve(send(destination={"payment": {}}))
    assert resolved.destination.payment == PaymentDestination()


def test_payment_to_payment_and_missing_amount_are_left_to_the_stage_logic() -> None:
    # "send from payment to payment is not supported" and "amount must be specified"
    # are execution failures (6.2), not schema rules.
    resolved = resolve(send(source={"payment": {"id": "p"}}, destination={"payment": {}}))
    assert resolved.amount is None


# -- misc ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "destination", "kinds"),
    [
        (ACCOUNT, WALLET, ("account", "wallet")),
        (WALLET, {"payment": {"psp": "x"}}, ("wallet", "payment")),
        ({"payment": {"id": "p"}}, ACCOUNT, ("payment", "account")),
    ],
)
def test_kind_names_the_chosen_alternative(
    source: dict[str, Any], destination: dict[str, Any], kinds: tuple[str, str]
) -> None:
    resolved = resolve(send(source=source, destination=destination))
    assert (resolved.source.kind, resolved.destination.kind) == kinds


def test_kind_of_an_unvalidated_model_is_an_error() -> None:
    with pytest.raises(ValueError, match="exactly one alternative"):
        _ = SendSource().kind


def test_unknown_keys_are_ignored() -> None:
    stage = send(extra=1, source={"account": {"id": "a", "colour": "blue"}, "other": {}})
    assert resolve(stage).source.account == LedgerAccount(id="a")


def test_stage_spec_is_accepted() -> None:
    spec = StageSpec(name="send", body=send()["send"])
    assert resolve_stage(spec, {}) == resolve(send())


def test_models_are_frozen() -> None:
    resolved = resolve(send())
    with pytest.raises(ValueError, match="frozen"):
        resolved.timestamp = None  # type: ignore[misc]


def test_input_is_not_modified() -> None:
    stage = send(amount={"amount": "${a}", "asset": "EUR/2"}, metadata={"k": "${v}"})
    before = repr(stage)
    resolve(stage, a="1", v="x")
    assert repr(stage) == before
