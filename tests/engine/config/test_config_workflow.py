"""Creation-time checks of a workflow definition (BEHAVIOUR.md 3.4, 4.1, 5.2, 14.3)."""

import copy
from datetime import timedelta
from typing import Any

import pytest

from engine.config import (
    DEFAULT_ACTIVITY_MAX_ATTEMPTS,
    Delay,
    Send,
    StageSpec,
    Workflow,
    WorkflowConfigError,
    parse_workflow,
    resolve_stage,
)

pytestmark = pytest.mark.unit

SEND = {
    "source": {"account": {"id": "${accountID}"}},
    "destination": {"wallet": {"id": "${walletID}"}},
    "amount": {"amount": "${amount}", "asset": "EUR/2"},
}


def rejected(raw: Any) -> WorkflowConfigError:
    with pytest.raises(WorkflowConfigError) as caught:
        parse_workflow(raw)
    return caught.value


def one_stage(name: str, body: Any) -> dict[str, Any]:
    return {"name": "w", "stages": [{name: body}]}


def with_send(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEND)
    body.update(overrides)
    return one_stage("send", body)


# -- top level --------------------------------------------------------------------------


def test_empty_object_is_accepted() -> None:
    workflow = parse_workflow({})
    assert workflow == Workflow(name="", stages=(), activity_max_attempts=None, raw={})


def test_stages_and_raw_are_kept() -> None:
    raw = {
        "name": "credit-wallet",
        "stages": [{"send": SEND}, {"wait_event": {"event": "done"}}, {"noop": None}],
        "unknown": {"kept": True},
    }
    workflow = parse_workflow(raw)
    assert workflow.name == "credit-wallet"
    assert workflow.stages == (
        StageSpec(name="send", body=SEND),
        StageSpec(name="wait_event", body={"event": "done"}),
        StageSpec(name="noop", body=None),
    )
    assert workflow.raw == raw
    assert workflow.stages[0].as_raw() == {"send": SEND}


def test_raw_is_a_copy() -> None:
    raw: dict[str, Any] = {"name": "w", "stages": [{"wait_event": {"event": "e"}}]}
    workflow = parse_workflow(raw)
    raw["stages"][0]["wait_event"]["event"] = "changed"
    assert workflow.raw["stages"][0]["wait_event"]["event"] == "e"


def test_null_and_empty_stages() -> None:
    assert parse_workflow({"stages": None}).raw == {"stages": None}
    assert parse_workflow({"stages": []}).stages == ()
    assert parse_workflow({"name": None}).name == ""


@pytest.mark.parametrize("raw", [None, [], "workflow", 3])
def test_body_must_be_an_object(raw: Any) -> None:
    error = rejected(raw)
    assert error.stage is None
    assert error.field is None


@pytest.mark.parametrize(("raw", "field"), [({"name": 1}, "name"), ({"stages": {}}, "stages")])
def test_top_level_types(raw: dict[str, Any], field: str) -> None:
    error = rejected(raw)
    assert error.field == field
    assert error.stage is None


# -- activityMaxAttempts (14.3) ----------------------------------------------------------


@pytest.mark.parametrize("value", [1, 3, 15, 2147483647])
def test_activity_max_attempts_in_range(value: int) -> None:
    assert parse_workflow({"activityMaxAttempts": value}).activity_max_attempts == value


def test_activity_max_attempts_absent() -> None:
    assert parse_workflow({"stages": []}).activity_max_attempts is None
    assert DEFAULT_ACTIVITY_MAX_ATTEMPTS == 15


@pytest.mark.parametrize("value", [0, -1, 2147483648])
def test_activity_max_attempts_out_of_range(value: int) -> None:
    error = rejected({"activityMaxAttempts": value})
    assert error.message == "activityMaxAttempts must be between 1 and 2147483647"
    assert error.field == "activityMaxAttempts"


@pytest.mark.parametrize("value", ["3", 3.0, True, [3]])
def test_activity_max_attempts_must_be_an_integer(value: Any) -> None:
    assert rejected({"activityMaxAttempts": value}).field == "activityMaxAttempts"


# -- stage shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ({}, "stage 0: empty specification"),
        (None, "stage 0: empty specification"),
        ({"noop": {}, "delay": {}}, "stage 0: a specification should have only one name"),
        ({"sleep": {}}, "stage 0: unable to resolve schema sleep"),
        ({"delay": "5s"}, "stage 0: stage 'delay' must be an object or null"),
        ({"delay": ["5s"]}, "stage 0: stage 'delay' must be an object or null"),
        ("noop", "stage 0: a stage must be an object with one key, the stage name"),
        ([{"noop": {}}], "stage 0: a stage must be an object with one key, the stage name"),
    ],
)
def test_stage_shape(stage: Any, expected: str) -> None:
    error = rejected({"stages": [stage]})
    assert error.message == expected
    assert error.stage == 0
    assert error.field is None


def test_error_names_the_stage_index() -> None:
    raw: dict[str, Any] = {"stages": [{"noop": {}}, {"noop": {}}, {"wait_event": {}}]}
    error = rejected(raw)
    assert error.stage == 2
    assert error.message == "stage 2 (wait_event): field 'event': is required"


# -- coercion at creation, with placeholder values -----------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (
            with_send(amount={"amount": "abc", "asset": "EUR/2"}),
            "amount.amount",
            "stage 0 (send): field 'amount.amount': unable to parse 'abc' as big int",
        ),
        (
            with_send(amount={"amount": True, "asset": "EUR/2"}),
            "amount.amount",
            "stage 0 (send): field 'amount.amount': "
            "expected big int or interpolated string but was bool",
        ),
        (
            with_send(source={"account": {"id": "a", "allowOverdraft": "maybe"}}),
            "source.account.allowOverdraft",
            "stage 0 (send): field 'source.account.allowOverdraft': "
            "unable to parse 'maybe' as boolean (expected true or false)",
        ),
        (
            with_send(source={"account": {"id": "a", "allowOverdraft": ""}}),
            "source.account.allowOverdraft",
            "stage 0 (send): field 'source.account.allowOverdraft': "
            "unable to parse '' as boolean (expected true or false)",
        ),
        (
            one_stage("delay", {"duration": "5 days"}),
            "duration",
            "stage 0 (delay): field 'duration': unable to parse '5 days' as duration",
        ),
        (
            one_stage("delay", {"duration": 5}),
            "duration",
            "stage 0 (delay): field 'duration': "
            "expected duration or interpolated string but was float64",
        ),
        (
            one_stage("delay", {"until": "tomorrow"}),
            "until",
            "stage 0 (delay): field 'until': unable to parse 'tomorrow' as RFC 3339 date",
        ),
        (
            with_send(timestamp="2025-03-04"),
            "timestamp",
            "stage 0 (send): field 'timestamp': unable to parse '2025-03-04' as RFC 3339 date",
        ),
        (
            one_stage("wait_event", {"event": 5}),
            "event",
            "stage 0 (wait_event): field 'event': expected string but was float64",
        ),
        (
            with_send(metadata={"key": 1}),
            "metadata.key",
            "stage 0 (send): field 'metadata.key': expected string but was float64",
        ),
        (
            with_send(metadata=["key"]),
            "metadata",
            "stage 0 (send): field 'metadata': expecting map, got type: []interface {}",
        ),
        (
            with_send(source={"account": {"id": 42}}),
            "source.account.id",
            "stage 0 (send): field 'source.account.id': expected string but was float64",
        ),
        (
            with_send(destination={"payment": {"psp": "x", "sourceAccount": 7}}),
            "destination.payment.sourceAccount",
            "stage 0 (send): field 'destination.payment.sourceAccount': "
            "expected string but was float64",
        ),
        (
            with_send(source="users:001"),
            "source",
            "stage 0 (send): field 'source': expected map but was string",
        ),
        (
            one_stage("update", {"account": {"id": "a", "metadata": "tier=gold"}}),
            "account.metadata",
            "stage 0 (update): field 'account.metadata': expecting map, got type: string",
        ),
    ],
)
def test_literals_of_the_wrong_type_are_rejected(
    raw: dict[str, Any], field: str, message: str
) -> None:
    error = rejected(raw)
    assert error.message == message
    assert error.stage == 0
    assert error.field == field


@pytest.mark.parametrize(
    "raw",
    [
        with_send(amount={"amount": "${amount}", "asset": "${asset}"}),
        with_send(amount={"amount": "1${zeros}", "asset": "EUR/2"}),
        with_send(amount={"amount": 1500.5, "asset": "EUR/2"}),
        with_send(amount={"amount": "-5", "asset": "EUR/2"}),
        with_send(source={"account": {"id": "a", "allowOverdraft": "${overdraft}"}}),
        with_send(source={"account": {"id": "a", "allowOverdraft": "TRUE"}}),
        with_send(timestamp="${ts}"),
        with_send(timestamp="2025-03-04T10:00:00Z"),
        with_send(metadata={"${key}": "${value}"}),
        one_stage("delay", {"duration": "${d}"}),
        one_stage("delay", {"until": "${u}"}),
        one_stage("delay", {"duration": "1.5h"}),
        one_stage("wait_event", {"event": "${e}"}),
        one_stage("update", {"account": {"id": "${a}", "ledger": "${l}", "metadata": {}}}),
    ],
)
def test_placeholders_are_assumed_valid_for_their_type(raw: dict[str, Any]) -> None:
    workflow = parse_workflow(raw)
    [(name, body)] = raw["stages"][0].items()
    assert [(s.name, s.body) for s in workflow.stages] == [(name, body)]


def test_literal_empty_duration_is_a_zero_wait_as_at_run_time() -> None:
    workflow = parse_workflow(one_stage("delay", {"duration": ""}))
    stage = resolve_stage(workflow.stages[0], {})
    assert isinstance(stage, Delay)
    assert stage.duration == timedelta(0)


def test_stage_bodies_do_not_alias_the_input() -> None:
    raw: dict[str, Any] = {"stages": [{"wait_event": {"event": "e"}}]}
    workflow = parse_workflow(raw)
    raw["stages"][0]["wait_event"]["event"] = "changed"
    assert workflow.stages[0].body == {"event": "e"}


def test_amount_that_interpolates_to_empty_is_not_checked_for_presence() -> None:
    # amount.amount is optional in the schema (a payment source supplies it).
    for amount in ({"asset": "EUR/2"}, None):
        workflow = parse_workflow(with_send(amount=amount))
        assert workflow.stages[0].body.get("amount") == amount


# -- required fields and exactly-one-of at creation ----------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (
            one_stage("wait_event", {"event": ""}),
            "event",
            "stage 0 (wait_event): field 'event': is required",
        ),
        (
            one_stage("wait_event", None),
            "event",
            "stage 0 (wait_event): field 'event': is required",
        ),
        (
            with_send(source={"account": {"ledger": "main"}}),
            "source.account.id",
            "stage 0 (send): field 'source.account.id': is required",
        ),
        (
            with_send(source={"payment": {"id": ""}}),
            "source.payment.id",
            "stage 0 (send): field 'source.payment.id': is required",
        ),
        (
            with_send(source={}),
            "source",
            "stage 0 (send): field 'source': "
            "exactly one of 'wallet', 'account', 'payment' must be set (none set)",
        ),
        (
            with_send(destination={"wallet": {"id": "w"}, "account": {"id": "a"}}),
            "destination",
            "stage 0 (send): field 'destination': "
            "exactly one of 'wallet', 'account', 'payment' must be set (several set)",
        ),
        (
            with_send(destination={"wallet": {}}),
            "destination.wallet",
            "stage 0 (send): field 'destination.wallet': "
            "exactly one of 'id', 'name' must be set (none set)",
        ),
        (
            with_send(destination={"wallet": {"id": "${w}", "name": "${n}"}}),
            "destination.wallet",
            "stage 0 (send): field 'destination.wallet': "
            "exactly one of 'id', 'name' must be set (several set)",
        ),
        (
            one_stage("delay", {}),
            None,
            "stage 0 (delay): exactly one of 'duration', 'until' must be set (none set)",
        ),
        (
            one_stage("delay", {"duration": "${d}", "until": "${u}"}),
            None,
            "stage 0 (delay): exactly one of 'duration', 'until' must be set (several set)",
        ),
        (
            one_stage("delay", {"until": ""}),
            None,
            "stage 0 (delay): exactly one of 'duration', 'until' must be set (none set)",
        ),
        (
            one_stage("update", {}),
            "account",
            "stage 0 (update): field 'account': is required",
        ),
        (
            one_stage("update", {"account": {"id": "a"}}),
            "account.metadata",
            "stage 0 (update): field 'account.metadata': is required",
        ),
        (
            one_stage("send", None),
            "source",
            "stage 0 (send): field 'source': expected map but was <nil>",
        ),
    ],
)
def test_schema_rules_are_checked_at_creation(
    raw: dict[str, Any], field: str | None, message: str
) -> None:
    error = rejected(raw)
    assert error.message == message
    assert error.stage == 0
    assert error.field == field


def test_defaults_satisfy_required_fields_at_creation() -> None:
    # ledger and balance are required but always filled by their defaults.
    workflow = parse_workflow(
        with_send(
            amount={"amount": 5, "asset": "EUR/2"},
            source={"account": {"id": "a", "ledger": ""}},
            destination={"wallet": {"name": "n", "balance": ""}},
        )
    )
    stage = resolve_stage(workflow.stages[0], {})
    assert isinstance(stage, Send)
    assert stage.source.account is not None
    assert stage.source.account.ledger == "default"
    assert stage.destination.wallet is not None
    assert stage.destination.wallet.balance == "main"


def test_unknown_keys_inside_stages_are_ignored() -> None:
    send = parse_workflow(with_send(colour="blue", source={"account": {"id": "a", "x": 1}}))
    resolved = resolve_stage(send.stages[0], {"walletID": "w", "amount": "5"})
    assert "colour" not in resolved.history_input()
    assert "x" not in resolved.history_input()["source"]["account"]
    wait = parse_workflow(one_stage("wait_event", {"event": "e", "timeout": "5s"}))
    assert resolve_stage(wait.stages[0], {}).history_input() == {"event": "e"}
