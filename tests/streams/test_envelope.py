import datetime as dt

import pytest

from streams import MalformedEvent, decode_envelope, format_time, new_envelope
from streams.envelope import format_time_ns

pytestmark = pytest.mark.unit


def test_decode_keeps_the_six_keys_and_drops_extras() -> None:
    env = decode_envelope(
        b'{"type":"T","payload":{"a":1},"app":"ledger","version":"v2",'
        b'"date":"2025-03-04T09:00:00Z","idempotency_key":"k","extra":true}'
    )
    assert env.to_dict() == {
        "idempotency_key": "k",
        "date": "2025-03-04T09:00:00Z",
        "app": "ledger",
        "version": "v2",
        "type": "T",
        "payload": {"a": 1},
    }


def test_missing_optional_keys_become_empty_strings() -> None:
    env = decode_envelope(b'{"type":"T","payload":null}')
    assert (env.app, env.version, env.date, env.idempotency_key) == ("", "", "", "")
    assert env.payload is None


@pytest.mark.parametrize(
    "raw",
    [b"", b"nope", b'"text"', b'{"payload":{}}', b'{"type":"","payload":{}}', b'{"type":"T"}'],
)
def test_unusable_records_raise_malformed_event(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode_envelope(raw)


def test_time_format_drops_trailing_zeros_like_go() -> None:
    base = dt.datetime(2025, 3, 4, 10, 15, 30, tzinfo=dt.UTC)
    assert format_time(base) == "2025-03-04T10:15:30Z"
    assert format_time(base.replace(microsecond=123450)) == "2025-03-04T10:15:30.12345Z"
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert format_time(dt.datetime(2025, 3, 4, 12, 0, tzinfo=plus_two)) == "2025-03-04T10:00:00Z"


def test_published_envelopes_are_orchestration_v2() -> None:
    env = new_envelope("STARTED_WORKFLOW", {"id": "w"})
    assert (env.app, env.version, env.idempotency_key) == ("orchestration", "v2", "")
    assert env.date.endswith("Z")


def test_nanosecond_time_format_drops_trailing_zeros_like_go() -> None:
    second = 1_741_083_330  # 2025-03-04T10:15:30Z
    assert format_time_ns(second * 10**9) == "2025-03-04T10:15:30Z"
    assert format_time_ns(second * 10**9 + 123_456_789) == "2025-03-04T10:15:30.123456789Z"
    assert format_time_ns(second * 10**9 + 500_000_000) == "2025-03-04T10:15:30.5Z"
