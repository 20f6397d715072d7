import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triggers import event_identity, identity, instance_id, occurrence_id

pytestmark = pytest.mark.unit


def test_identity_prefers_the_producer_idempotency_key() -> None:
    headers = {"_watermill_message_uuid": b"m-1"}
    assert event_identity("k-1", headers, b"{}") == "key:k-1"
    assert event_identity("", headers, b"{}") == "msg:m-1"


def test_identity_falls_back_to_the_content_hash() -> None:
    assert event_identity("", None, b'{"a":1}') == event_identity("", {}, b'{"a":1}')
    assert event_identity("", None, b'{"a":1}') != event_identity("", None, b'{"a":2}')


def test_occurrence_ids_are_deterministic_uuids_per_trigger_and_event() -> None:
    first = occurrence_id("t1", "COMMITTED_TRANSACTIONS", {"ledger": "main"}, "key:e1")
    assert first == occurrence_id("t1", "COMMITTED_TRANSACTIONS", {"ledger": "x"}, "key:e1")
    assert uuid.UUID(first)
    assert first != occurrence_id("t2", "COMMITTED_TRANSACTIONS", {}, "key:e1")
    assert first != occurrence_id("t1", "COMMITTED_TRANSACTIONS", {}, "key:e2")


@pytest.mark.parametrize("event_type", ["SAVED_PAYMENT", "SAVED_ACCOUNT"])
def test_payments_and_accounts_fire_once_per_object(event_type: str) -> None:
    # Upstream de-duplicates these on the payload id, whatever the message.
    pending = occurrence_id("t1", event_type, {"id": "pay_1", "status": "PENDING"}, "key:a")
    done = occurrence_id("t1", event_type, {"id": "pay_1", "status": "SUCCEEDED"}, "key:b")
    other = occurrence_id("t1", event_type, {"id": "pay_2"}, "key:a")
    assert pending == done
    assert pending != other
    assert pending != occurrence_id("t2", event_type, {"id": "pay_1"}, "key:a")


def test_a_non_object_payment_payload_does_not_crash() -> None:
    assert occurrence_id("t1", "SAVED_PAYMENT", ["not", "an", "object"], "key:a")
    assert occurrence_id("t1", "SAVED_PAYMENT", {"id": 42}, "key:a")


def test_instance_ids_have_the_upstream_trigger_shape() -> None:
    occurrence = str(uuid.uuid4())
    started = instance_id(occurrence)
    head, _, seq = started.rpartition("_")
    assert head == occurrence
    assert seq.isdigit()


@given(st.binary(min_size=16, max_size=16), st.text(max_size=60))
def test_name_uuid_is_rfc_4122_version_5(namespace: bytes, name: str) -> None:
    expected = uuid.uuid5(uuid.UUID(bytes=namespace), name)
    assert identity.name_uuid(namespace, name) == str(expected)
    assert identity.derived_id(str(expected), name) == str(uuid.uuid5(expected, name))
