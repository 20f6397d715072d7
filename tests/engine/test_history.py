import pytest

from engine import history
from streams import codec

pytestmark = pytest.mark.unit


def test_decode_reads_a_known_record() -> None:
    record = {
        "type": "instance.terminated",
        "instanceID": "i1",
        "terminatedAt": "2025-01-01T00:00:00Z",
    }
    assert history.decode(codec.dumps(record)) == record


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty"),
        (b"{nope", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "instance.exploded"}', "unknown history record type"),
        (b'{"type": "stage.status", "instanceID": "i1"}', "lacks stage, runID, startedAt"),
    ],
)
def test_decode_names_what_is_wrong(value: bytes | None, reason: str) -> None:
    with pytest.raises(history.HistoryError, match=reason):
        history.decode(value)


def _terminated(n: int) -> dict[str, str]:
    return {"type": "instance.terminated", "instanceID": f"i{n}", "terminatedAt": "2025-01-01Z"}


def test_packed_records_come_back_in_order_within_the_size_bound() -> None:
    encoded = [(f"i{n}", history.encode(_terminated(n))) for n in range(50)]
    bound = 600
    packed = history.pack(encoded, bound)
    assert len(packed) > 1
    records = []
    for key, value in packed:
        assert len(value) <= bound
        found, errors = history.decode_all(value)
        assert errors == []
        # A batch is keyed by its first record (it goes to that record's partition).
        assert key == found[0]["instanceID"]
        records += found
    assert records == [_terminated(n) for n in range(50)]


def test_a_lone_record_or_one_too_big_to_share_stays_a_plain_record() -> None:
    one = history.encode(_terminated(1))
    assert history.pack([("i1", one)], 10_000) == [("i1", one)]
    big = history.encode({**_terminated(2), "error": "x" * 500})
    packed = history.pack([("i1", one), ("i2", big), ("i3", one)], 300)
    assert packed == [("i1", one), ("i2", big), ("i3", one)]
    assert history.decode_all(one) == ([_terminated(1)], [])


def test_a_bad_record_in_a_batch_is_reported_and_its_neighbours_kept() -> None:
    good = history.encode(_terminated(1))
    value = history.encode_batch([good, b'{"type": "instance.exploded"}', b"[1]", good])
    found, errors = history.decode_all(value)
    assert found == [_terminated(1), _terminated(1)]
    assert [str(e) for e in errors] == [
        "unknown history record type 'instance.exploded'",
        "history record is not a JSON object",
    ]
    with pytest.raises(history.HistoryError, match="no 'records' list"):
        history.decode_all(b'{"type": "history.batch"}')
    # A batch is not a record type of its own.
    with pytest.raises(history.HistoryError, match="unknown history record type"):
        history.decode(value)
