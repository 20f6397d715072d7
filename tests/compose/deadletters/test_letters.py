import pytest

from compose.deadletters.letters import (
    ORIGINAL_HEADER_PREFIX,
    DeadLetter,
    Newest,
    Outcome,
    Source,
    Summary,
    decide,
    preview,
)
from engine import matching

pytestmark = pytest.mark.unit


def letter(offset: int = 0, *, source: str = "ledger/1/42", ts: int = 0) -> DeadLetter:
    return DeadLetter.from_record(
        "orchestration.dead-letter",
        0,
        offset,
        ts,
        [("reason", b"not JSON: expected value"), ("source", source.encode())],
        b'{"type":',
    )


def test_the_source_header_parses_into_topic_partition_offset() -> None:
    assert Source.parse("acme.ledger/3/1234") == Source("acme.ledger", 3, 1234)
    for bad in ("", "ledger", "ledger/1", "/1/2", "ledger/x/2", "ledger/1/-2"):
        assert Source.parse(bad) is None, bad


def test_the_preview_is_one_escaped_line_of_at_most_80_characters() -> None:
    assert preview(b'{"a":1}\n\x00') == '{"a":1}\\n\\x00'
    assert preview(b"\xff\xfe ok") == "\\xff\\xfe ok"
    assert preview("héllo".encode()) == "héllo"
    long = preview(b"x" * 1000)
    assert long == "x" * 80 + "..."


def test_a_summary_shows_coordinates_reason_source_and_size() -> None:
    summary = Summary.of(letter(7, ts=1_700_000_000_123))
    line = summary.line()
    for part in ("0/7", "2023-11-14T22:13:20.123Z", "8B", "source=ledger/1/42", "not JSON"):
        assert part in line
    assert summary.to_json()["preview"] == '{"type":'


def test_newest_keeps_only_the_limit_newest_in_memory() -> None:
    newest = Newest(2)
    for offset, ts in enumerate([30, 10, 50, 20, 40]):
        newest.add(Summary.of(letter(offset, ts=ts)))
    assert [s.timestamp_ms for s in newest.newest_first()] == [50, 40]


def test_replay_decides_per_letter() -> None:
    topics = {"ledger"}
    assert decide(letter(1), set(), topics) is Outcome.REPLAY
    assert decide(letter(1), {"orchestration.dead-letter/0/1"}, topics) is Outcome.ALREADY_REPLAYED
    assert decide(letter(1, source="gone/0/1"), set(), topics) is Outcome.SOURCE_GONE
    assert decide(letter(1, source="garbage"), set(), topics) is Outcome.NO_SOURCE


def test_the_reason_filter_is_a_substring() -> None:
    assert letter().matches("not JSON")
    assert letter().matches(None)
    assert not letter().matches("exceeds")


def test_a_replay_restores_the_original_headers_and_marks_itself() -> None:
    assert ORIGINAL_HEADER_PREFIX == matching.ORIGINAL_HEADER_PREFIX
    out = matching.dead_letter(
        b"x",
        "not JSON",
        "ledger/0/7",
        {"_watermill_message_uuid": b"m", "dead_letter_replay": b"old"},
    )
    replayed = DeadLetter.from_record("dlt", 1, 5, 0, out.headers, out.value)
    assert replayed.source == "ledger/0/7"
    assert replayed.replay_headers() == [
        ("_watermill_message_uuid", b"m"),
        ("dead_letter_replay", b"dlt/1/5"),
    ]


def test_a_summary_names_the_replay_a_letter_came_back_from() -> None:
    out = matching.dead_letter(b"x", "not JSON", "ledger/0/9", {"dead_letter_replay": b"dlt/1/5"})
    again = Summary.of(DeadLetter.from_record("dlt", 0, 2, 0, out.headers, out.value))
    assert again.replay_of == "dlt/1/5"
    assert "replay_of=dlt/1/5" in again.line()
    assert Summary.of(letter()).replay_of is None
    assert "replay_of" not in Summary.of(letter()).line()
