import pytest

from compose.kafka_ready import leaderless

pytestmark = pytest.mark.unit


def partition(number: int, leader: int, error_code: int = 0) -> dict[str, int]:
    return {"partition": number, "leader": leader, "error_code": error_code}


def test_a_topic_waits_until_every_partition_has_a_leader() -> None:
    described = [
        {"topic": "ledger", "error_code": 0, "partitions": [partition(0, 1), partition(1, 1)]},
        {"topic": "history", "error_code": 0, "partitions": [partition(0, 1), partition(1, -1)]},
        {"topic": "commands", "error_code": 0, "partitions": [partition(0, 1, error_code=5)]},
        # Not created yet (UNKNOWN_TOPIC_OR_PARTITION), or created without metadata yet.
        {"topic": "__consumer_offsets", "error_code": 3, "partitions": []},
        {"topic": "events", "error_code": 0, "partitions": []},
    ]
    assert leaderless(described) == ["history", "commands", "__consumer_offsets", "events"]
    assert leaderless(described[:1]) == []
