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
