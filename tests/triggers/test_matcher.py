from typing import Any

import pytest

from triggers import FilterFailure, Match, Trigger, compile_trigger, evaluate, expr

pytestmark = pytest.mark.unit

PAYLOAD = b"""{"ledger": "main", "transactions": [{"id": 57, "metadata": {"order": "A-17"},
  "postings": [{"source": "world", "destination": "users:042",
                "amount": 1500, "asset": "EUR/2"}]}]}"""


def env() -> dict[str, Any]:
    return {"event": expr.decode_event(PAYLOAD)}


def run(**trigger: Any) -> Match | FilterFailure | None:
    compiled = compile_trigger(Trigger(id="t", workflow_id="w", event="E", **trigger))
    return evaluate(compiled, env())


def test_no_filter_matches_and_an_empty_filter_counts_as_none() -> None:
    assert isinstance(run(), Match)
    assert isinstance(run(filter=""), Match)


def test_only_a_true_filter_matches() -> None:
    assert isinstance(run(filter='event.ledger == "main"'), Match)
    assert run(filter='event.ledger == "other"') is None
    # A non-boolean result is "no match", silently (not an error).
    assert run(filter="event.ledger") is None
    assert run(filter="event.missing") is None


def test_a_failing_filter_is_reported_not_matched() -> None:
    outcome = run(filter="event.missing.deep == 1")
    assert isinstance(outcome, FilterFailure)
    assert "cannot fetch deep" in outcome.error


def test_vars_become_go_formatted_strings() -> None:
    outcome = run(
        vars={
            "txID": "event.transactions[0].id",
            "amount": "event.transactions[0].postings[0].amount",
            "order": "event.transactions[0].metadata.order",
            "missing": "event.nothing",
        }
    )
    assert isinstance(outcome, Match)
    assert outcome.error is None
    assert outcome.variables == {
        "txID": "57",
        "amount": "1500",
        "order": "A-17",
        "missing": "<nil>",
    }


def test_a_failing_var_records_an_error_instead_of_variables() -> None:
    outcome = run(vars={"ok": "event.ledger", "bad": "event.nothing.deeper"})
    assert isinstance(outcome, Match)
    assert outcome.variables is None
    assert outcome.error is not None
    assert "bad" in outcome.error
