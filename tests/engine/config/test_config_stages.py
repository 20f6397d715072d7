"""Run-time resolution of ``delay``, ``wait_event``, ``update``, ``noop`` (BEHAVIOUR.md 5.5-5.8)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.config import (
    Delay,
    Noop,
    ResolvedStage,
    Send,
    StageError,
    Update,
    UpdateAccount,
    WaitEvent,
    resolve_stage,
)

pytestmark = pytest.mark.unit


def error_of(stage: Any, **variables: str) -> str:
    with pytest.raises(StageError) as caught:
        resolve_stage(stage, variables)
    return caught.value.message


@pytest.mark.parametrize(
    ("stage", "kind", "history_name"),
    [
        ({"send": {"source": {"wallet": {"id": "w"}}, "destination": {"wallet": {"id": "v"}}}},
         Send, "RunSend"),
        ({"delay": {"duration": "1s"}}, Delay, "RunDelay"),
        ({"wait_event": {"event": "e"}}, WaitEvent, "RunWaitEvent"),
        ({"update": {"account": {"id": "a", "metadata": {}}}}, Update, "RunUpdate"),
        ({"noop": {}}, Noop, "RunNoop"),
    ],
)  # fmt: skip
def test_history_names(stage: dict[str, Any], kind: type[ResolvedStage], history_name: str) -> None:
    resolved = resolve_stage(stage, {})
    assert type(resolved) is kind
    assert resolved.history_name == history_name


# -- wait_event -------------------------------------------------------------------------


def test_wait_event_history() -> None:
    resolved = resolve_stage({"wait_event": {"event": "${name}"}}, {"name": "processed"})
    assert resolved == WaitEvent(event="processed")
    assert resolved.history_input() == {"event": "processed"}


@pytest.mark.parametrize("body", [{}, None, {"event": ""}, {"event": "${missing}"}])
def test_wait_event_requires_an_event(body: dict[str, Any] | None) -> None:
    # The exact message of BEHAVIOUR.md 4.3.
    assert error_of({"wait_event": body}) == (
        "Key: 'WaitEvent.Event' Error:Field validation for 'Event' failed on the 'required' tag"
    )


def test_wait_event_name_must_be_a_string() -> None:
    assert error_of({"wait_event": {"event": 5}}) == (
        "resolving field 'Event': expected string but was float64"
    )


# -- delay ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "rendered"),
    [("10s", "10s"), ("90s", "1m30s"), ("1h", "1h0m0s"), ("300ms", "300ms"), ("1.5h", "1h30m0s")],
)
def test_delay_duration_is_reprinted_in_go_form(duration: str, rendered: str) -> None:
    resolved = resolve_stage({"delay": {"duration": "${d}"}}, {"d": duration})
    assert resolved.history_input() == {"duration": rendered}


def test_delay_duration_values() -> None:
    resolved = resolve_stage({"delay": {"duration": "1m30.5s"}}, {})
    assert isinstance(resolved, Delay)
    assert resolved.duration_ns == 90_500_000_000
    assert resolved.duration == timedelta(seconds=90.5)
    assert resolved.until is None


def test_delay_negative_duration_as_timedelta() -> None:
    resolved = resolve_stage({"delay": {"duration": "-1.5us"}}, {})
    assert isinstance(resolved, Delay)
    assert resolved.duration == timedelta(microseconds=-1)


def test_delay_until() -> None:
    resolved = resolve_stage({"delay": {"until": "2025-03-04T12:00:00Z"}}, {})
    assert resolved == Delay(until=datetime(2025, 3, 4, 12, tzinfo=UTC))
    assert resolved.history_input() == {"until": "2025-03-04T12:00:00Z"}


def test_delay_until_in_the_past_is_not_a_schema_error() -> None:
    # "negative duration provided ..." is raised by the stage when it runs.
    resolved = resolve_stage({"delay": {"until": "2000-01-01T00:00:00Z"}}, {})
    assert isinstance(resolved, Delay)


def test_delay_empty_duration_is_a_zero_wait() -> None:
    # Presence quirk: a mentioned duration that interpolates to empty is set, to 0.
    resolved = resolve_stage({"delay": {"duration": "${d}"}}, {})
    assert resolved == Delay(duration_ns=0)
    assert resolved.history_input() == {"duration": "0s"}


_NEITHER_OR_BOTH = (
    "Key: 'Delay.duration' Error:Field validation for 'duration' failed on the "
    "'duration or until' tag\n"
    "Key: 'Delay.until' Error:Field validation for 'until' failed on the 'duration or until' tag"
)


@pytest.mark.parametrize(
    "body",
    [
        {},
        None,
        {"duration": None, "until": None},
        {"duration": "5s", "until": "2025-03-04T12:00:00Z"},
        # Project CHOICE: an empty date is absent, so this delay has neither field
        # (upstream would sleep until year 1 and fail with a negative duration).
        {"until": "${u}"},
    ],
)
def test_delay_needs_exactly_one_of_duration_and_until(body: dict[str, Any] | None) -> None:
    assert error_of({"delay": body}) == _NEITHER_OR_BOTH


@pytest.mark.parametrize("duration", ["5 days", "5d", "5", "soon"])
def test_delay_unparseable_duration(duration: str) -> None:
    assert error_of({"delay": {"duration": duration}}) == (
        "resolving field 'Duration': unable to resolve field 'Duration' to duration value"
    )


def test_delay_duration_must_be_a_string() -> None:
    message = error_of({"delay": {"duration": 5}})
    assert message.startswith("resolving field 'Duration': ")
    assert message.endswith("but was float64")


def test_delay_unparseable_until() -> None:
    assert error_of({"delay": {"until": "tomorrow"}}) == (
        "resolving field 'Until': expected date as rfc3339 format"
    )


# -- update -----------------------------------------------------------------------------


def test_update_history_example_of_section_5_7() -> None:
    stage = {"update": {"account": {"id": "${accountID}", "metadata": {"tier": "${tier}"}}}}
    resolved = resolve_stage(stage, {"accountID": "users:042", "tier": "gold"})
    assert resolved == Update(
        account=UpdateAccount(id="users:042", ledger="main", metadata={"tier": "gold"})
    )
    assert resolved.history_input() == {
        "account": {"id": "users:042", "ledger": "main", "metadata": {"tier": "gold"}}
    }


def test_update_ledger_defaults_to_main_even_when_empty() -> None:
    stage = {"update": {"account": {"id": "a", "ledger": "${ledger}", "metadata": {}}}}
    resolved = resolve_stage(stage, {})
    assert isinstance(resolved, Update)
    assert resolved.account is not None
    assert resolved.account.ledger == "main"


def test_update_empty_metadata_is_allowed() -> None:
    resolved = resolve_stage({"update": {"account": {"id": "a", "metadata": {}}}}, {})
    assert resolved.history_input() == {"account": {"id": "a", "ledger": "main", "metadata": {}}}


def test_update_metadata_keys_are_not_interpolated() -> None:
    stage = {"update": {"account": {"id": "a", "metadata": {"${k}": "${v}"}}}}
    resolved = resolve_stage(stage, {"k": "x", "v": "y"})
    assert resolved.history_input()["account"]["metadata"] == {"${k}": "y"}


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        (
            {"id": "a"},
            "Key: 'Update.Account.Metadata' Error:Field validation for 'Metadata' failed on the "
            "'required' tag",
        ),
        (
            {"id": "a", "metadata": None},
            "Key: 'Update.Account.Metadata' Error:Field validation for 'Metadata' failed on the "
            "'required' tag",
        ),
        (
            {"metadata": {}},
            "Key: 'Update.Account.ID' Error:Field validation for 'ID' failed on the 'required' tag",
        ),
    ],
)
def test_update_required_fields(account: dict[str, Any], expected: str) -> None:
    assert error_of({"update": {"account": account}}) == expected


@pytest.mark.parametrize("body", [{}, None, {"account": None}])
def test_update_requires_an_account(body: dict[str, Any] | None) -> None:
    assert error_of({"update": body}) == (
        "Key: 'Update.account' Error:Field validation for 'account' failed on the 'account' tag"
    )


def test_update_metadata_type_errors() -> None:
    assert error_of({"update": {"account": {"id": "a", "metadata": {"k": 1}}}}) == (
        "resolving field 'Account': resolving field 'Metadata': expected string but was float64"
    )


# -- noop -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, None, {"anything": [1, 2]}])
def test_noop_ignores_its_body(body: dict[str, Any] | None) -> None:
    resolved = resolve_stage({"noop": body}, {})
    assert resolved == Noop()
    assert resolved.history_input() == {}


# -- shape at run time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ({}, "empty specification"),
        ({"noop": {}, "delay": {}}, "a specification should have only one name"),
        ({"sleep": {}}, "unable to resolve schema sleep"),
    ],
)
def test_malformed_stage_at_run_time(stage: dict[str, Any], expected: str) -> None:
    assert error_of(stage) == expected


def test_stage_body_must_be_an_object() -> None:
    assert "must be an object" in error_of({"delay": "5s"})
