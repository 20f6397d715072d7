import datetime as dt
import json
import uuid
from typing import Any

import orjson
import pytest

from engine.definitions import WorkflowDefinition
from engine.matching import decode_headers, match_record
from tests.builders import make_index, make_trigger
from triggers import TriggerIndex

pytestmark = pytest.mark.unit

NOW = dt.datetime(2025, 3, 4, 10, 22, 0, 1000, tzinfo=dt.UTC)


def envelope(**overrides: Any) -> bytes:
    value: dict[str, Any] = {
        "date": "2025-03-04T09:00:01.25Z",
        "app": "ledger",
        "version": "v2",
        "type": "COMMITTED_TRANSACTIONS",
        "payload": {"ledger": "main", "transactions": [{"id": 57}]},
    }
    value.update(overrides)
    return json.dumps(value).encode()


def run(raw: bytes | None, index: TriggerIndex, **kwargs: Any) -> Any:
    return match_record(
        raw,
        kwargs.pop("headers", None),
        index,
        coordinates="ledger/0/7",
        max_bytes=kwargs.pop("max_bytes", 1 << 20),
        now=NOW,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("raw", "reason", "kind"),
    [
        (b"not json", "not JSON", "not_json"),
        (b"", "empty", "empty"),
        (None, "empty", "empty"),
        (b"[1, 2]", "not an object", "not_envelope"),
        (b'{"payload": {}}', "no 'type'", "not_envelope"),
        (b'{"type": 3, "payload": {}}', "not a string", "not_envelope"),
        (b'{"type": "X"}', "no 'payload'", "not_envelope"),
    ],
)
def test_malformed_records_are_dead_lettered_with_their_coordinates(
    raw: bytes | None, reason: str, kind: str
) -> None:
    result = run(raw, make_index(make_trigger()))
    assert result.dead_letter_reason is not None
    assert reason in result.dead_letter_reason
    assert result.dead_letter_kind == kind
    [out] = result.outputs
    assert out.dead_letter
    assert out.value == (raw or b"")
    assert dict(out.headers)["source"] == b"ledger/0/7"


def test_a_dead_letter_keeps_the_rejected_records_headers_for_a_replay() -> None:
    headers = {"_watermill_message_uuid": b"m-1", "dead_letter_replay": b"dlt/0/3"}
    [out] = run(b"not json", make_index(make_trigger()), headers=headers).outputs
    assert dict(out.headers) == {
        "reason": dict(out.headers)["reason"],
        "source": b"ledger/0/7",
        "original._watermill_message_uuid": b"m-1",
        "original.dead_letter_replay": b"dlt/0/3",
    }


def test_oversized_records_are_dead_lettered_before_decoding() -> None:
    result = run(envelope(), make_index(make_trigger()), max_bytes=10)
    assert result.dead_letter_reason is not None
    assert "exceeds" in result.dead_letter_reason
    assert result.dead_letter_kind == "oversized"
    assert result.outputs[0].dead_letter


def test_an_event_without_candidates_produces_nothing() -> None:
    result = run(envelope(type="SAVED_METADATA"), make_index(make_trigger()))
    assert result.outputs == []
    assert result.matched == 0
    assert result.dead_letter_reason is None


def test_a_match_produces_an_occurrence_and_an_instance_keyed_by_instance() -> None:
    index = make_index(make_trigger(vars={"txID": "event.transactions[0].id"}))
    result = run(envelope(idempotency_key="evt-1"), index)
    assert result.matched == 1
    [out] = result.outputs
    record = orjson.loads(out.value)
    occurrence, instance = record["occurrence"], record["instance"]
    assert record["type"] == "trigger.occurred"
    assert occurrence["triggerID"] == "t1"
    assert occurrence["date"] == "2025-03-04T10:22:00.001Z"
    assert occurrence["event"] == {
        "idempotency_key": "evt-1",
        "date": "2025-03-04T09:00:01.25Z",
        "app": "ledger",
        "version": "v2",
        "type": "COMMITTED_TRANSACTIONS",
        "payload": {"ledger": "main", "transactions": [{"id": 57}]},
    }
    assert occurrence["workflowInstanceID"] == instance["id"]
    assert instance["workflowID"] == "w1"
    assert instance["variables"] == {"txID": "57"}
    assert out.key == instance["id"].encode()


def test_the_same_event_redelivered_yields_the_same_ids() -> None:
    index = make_index(make_trigger())
    first = orjson.loads(run(envelope(), index).outputs[0].value)
    again = orjson.loads(run(envelope(), index).outputs[0].value)
    other = orjson.loads(run(envelope(payload={"ledger": "x"}), index).outputs[0].value)
    assert first["id"] == again["id"]
    assert first["occurrence"]["id"] == again["occurrence"]["id"]
    assert first["occurrence"]["id"] != other["occurrence"]["id"]


def test_exact_big_integers_are_kept_in_the_stored_event() -> None:
    big = 2**70
    raw = envelope(payload={"ledger": "main", "transactions": [{"id": big}]})
    out = run(raw, make_index(make_trigger())).outputs[0]
    assert b"1180591620717411303424" in out.value


def test_failing_vars_record_the_occurrence_with_an_error_and_no_instance() -> None:
    index = make_index(make_trigger(id="bad-vars", vars={"x": "event.nope.deeper"}))
    result = run(envelope(), index)
    assert result.vars_errors == ["bad-vars"]
    [out] = result.outputs
    record = orjson.loads(out.value)
    assert record["instance"] is None
    assert "workflowInstanceID" not in record["occurrence"]
    assert "cannot fetch deeper" in record["occurrence"]["error"]


def test_filter_failures_are_reported_and_other_triggers_still_fire() -> None:
    index = make_index(
        make_trigger(id="broken", filter="event.nope.deeper == 1"),
        make_trigger(id="fine", filter='event.ledger == "main"'),
    )
    result = run(envelope(), index)
    assert [f.trigger.trigger.id for f in result.filter_errors] == ["broken"]
    assert result.matched == 1
    assert orjson.loads(result.outputs[0].value)["occurrence"]["triggerID"] == "fine"


def test_the_filter_sees_the_payload_not_the_envelope() -> None:
    index = make_index(make_trigger(filter='event.ledger == "main" && event.type == nil'))
    assert run(envelope(), index).matched == 1


def test_headers_are_normalised_from_client_shapes() -> None:
    assert decode_headers([("a", b"1"), ("b", "2")]) == {"a": b"1", "b": b"2"}
    assert decode_headers({"a": b"1"}) == {"a": b"1"}
    assert decode_headers(None) == {}


def test_a_deeply_nested_event_is_dead_lettered_not_raised() -> None:
    # 2 KB, 1,000 deep: once a RecursionError that rewound the batch forever.
    deep = "[" * 1000 + "]" * 1000
    raw = envelope(payload={"ledger": "main", "x": "placeholder"}).replace(
        b'"placeholder"', deep.encode()
    )
    index = make_index(make_trigger(vars={"all": "toJSON(event)"}))
    result = run(raw, index)
    assert result.matched == 0
    assert result.dead_letter_reason is not None
    assert "nested deeper than 128" in result.dead_letter_reason
    assert result.dead_letter_kind == "not_json"
    [out] = result.outputs
    assert out.dead_letter
    assert out.value == raw


def test_an_occurrence_too_large_to_record_keeps_the_event_and_starts_nothing() -> None:
    index = make_index(make_trigger(vars={"all": "toJSON(event)"}))
    raw = envelope(payload={"ledger": "main", "blob": "x" * 5000})
    [out] = run(raw, index, max_record_bytes=8000).outputs
    record = json.loads(out.value)
    assert len(out.value) <= 8000
    assert record["instance"] is None
    assert "workflowInstanceID" not in record["occurrence"]
    assert "exceeds the 8000-byte record limit" in record["occurrence"]["error"]
    assert record["occurrence"]["event"]["payload"]["blob"] == "x" * 5000


WORKFLOWS = {
    "w1": WorkflowDefinition(
        id="w1",
        config={"name": "pay", "stages": [{"delay": {"duration": "1s"}}]},
        created_at="2025-03-04T09:00:00Z",
    )
}


def test_an_occurrence_starts_its_instance_on_the_workflow_it_was_defined_with() -> None:
    index = make_index(make_trigger(vars={"txID": "event.transactions[0].id"}))
    result = run(envelope(idempotency_key="evt-1"), index, workflows=WORKFLOWS)
    [start] = result.starts
    instance = orjson.loads(result.outputs[0].value)["instance"]
    assert start.instance_id == instance["id"]
    assert start.workflow_id == "w1"
    assert start.config == WORKFLOWS["w1"].config
    assert start.variables == {"txID": "57"}
    assert start.created_at == instance["createdAt"]
    # The run id is a UUID derived from the occurrence: a re-matched event
    # sends the same command, which the runtime rejects as already started.
    again = run(envelope(idempotency_key="evt-1"), index, workflows=WORKFLOWS).starts[0]
    other = run(envelope(idempotency_key="evt-2"), index, workflows=WORKFLOWS).starts[0]
    assert uuid.UUID(start.id)
    assert again == start
    assert other.id != start.id


def test_occurrences_that_create_no_instance_start_nothing() -> None:
    failing = make_index(make_trigger(vars={"x": "event.nope.deeper"}))
    assert run(envelope(), failing, workflows=WORKFLOWS).starts == []
    too_large = make_index(make_trigger(vars={"all": "toJSON(event)"}))
    raw = envelope(payload={"ledger": "main", "blob": "x" * 5000})
    assert run(raw, too_large, workflows=WORKFLOWS, max_record_bytes=8000).starts == []
    # Without the workflow configurations (a test of matching alone) nothing starts.
    assert run(envelope(), make_index(make_trigger())).starts == []


def test_failed_occurrences_publish_failed_trigger_and_started_ones_nothing_yet() -> None:
    failing = make_index(make_trigger(id="t-fail", vars={"x": "event.nope.deeper"}))
    result = run(envelope(), failing, workflows=WORKFLOWS)
    occurrence = orjson.loads(result.outputs[0].value)["occurrence"]
    [failed] = result.events
    assert (failed.key, failed.type) == (occurrence["id"], "FAILED_TRIGGER")
    assert failed.payload == {
        "id": occurrence["id"],
        "triggerID": "t-fail",
        "error": occurrence["error"],
    }
    too_large = make_index(make_trigger(vars={"all": "toJSON(event)"}))
    raw = envelope(payload={"ledger": "main", "blob": "x" * 5000})
    [big] = run(raw, too_large, workflows=WORKFLOWS, max_record_bytes=8000).events
    assert "record limit" in big.payload["error"]
    # A started occurrence is announced by its instance, after STARTED_WORKFLOW:
    # its start command names the occurrence and the trigger for that.
    started = run(envelope(), make_index(make_trigger(id="t-ok")), workflows=WORKFLOWS)
    assert started.events == []
    [start] = started.starts
    occurrence = orjson.loads(started.outputs[0].value)["occurrence"]
    assert (start.occurrence_id, start.trigger_id) == (occurrence["id"], "t-ok")
