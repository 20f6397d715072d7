"""`orchestration dead-letters list|replay` against a real broker, through typer's runner."""

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from compose.cli import app
from compose.deadletters.kafka import marker_topic
from engine.matching import dead_letter
from streams import KafkaSettings, Topics, codec
from streams.topics import ensure_topics, scan

pytestmark = pytest.mark.integration


def run(settings: KafkaSettings, *args: str) -> tuple[int, list[str]]:
    env = {
        "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ORCHESTRATION_TOPIC_PREFIX": settings.topic_prefix,
    }
    result = CliRunner().invoke(app, ["dead-letters", *args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout.splitlines()


# An hour ago, on a whole second: recent enough for the broker's 7-day
# retention. With 2023 timestamps the letters were deleted by the broker's
# first retention check (30 s after it starts), and a replay run then read
# nothing.
BASE_MS = (int(time.time()) - 3600) * 1000


def write_dead_letters(settings: KafkaSettings, letters: list[tuple[bytes, str, str]]) -> list[str]:
    """Dead letters as the worker writes them, 1 s apart; their coordinates."""
    topic = Topics.from_settings(settings).dead_letter

    async def send() -> list[str]:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            coordinates = []
            for n, (raw, reason, source) in enumerate(letters):
                out = dead_letter(raw, reason, source)
                meta = await producer.send_and_wait(
                    topic,
                    key=out.key,
                    value=out.value,
                    headers=list(out.headers),
                    timestamp_ms=BASE_MS + n * 1000,
                )
                coordinates.append(f"{topic}/{meta.partition}/{meta.offset}")
            return coordinates
        finally:
            await producer.stop()

    return asyncio.run(send())


def read_topic(settings: KafkaSettings, topic: str) -> list[tuple[bytes, dict[str, bytes]]]:
    """Every record of `topic` now: value and headers."""

    async def read() -> list[tuple[bytes, dict[str, bytes]]]:
        async with asyncio.timeout(60), contextlib.aclosing(scan(settings, topic)) as records:
            return [(r.value or b"", dict(r.headers)) async for r in records]

    return asyncio.run(read())


def topic_exists(settings: KafkaSettings, topic: str) -> bool:
    from compose.deadletters.kafka import existing_topics

    return topic in asyncio.run(existing_topics(settings))


def test_list_says_when_there_is_nothing(make_kafka_settings: Callable[..., KafkaSettings]) -> None:
    settings = make_kafka_settings()
    assert run(settings, "list") == (0, ["no dead letters"])  # no topic at all
    asyncio.run(ensure_topics(settings))
    assert run(settings, "list") == (0, ["no dead letters"])  # an empty topic


def test_list_shows_reason_source_and_first_bytes_newest_first(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    asyncio.run(ensure_topics(settings))
    ledger, payments = settings.topics
    write_dead_letters(
        settings,
        [
            (b"not json{", "not JSON: expected value", f"{ledger}/0/7"),
            (b'{"payload":{}}', "no type", f"{ledger}/1/3"),
            (b"x\x00\n" + b"y" * 200, "event of 203 bytes exceeds the limit", f"{payments}/0/1"),
        ],
    )

    code, lines = run(settings, "list")
    assert code == 0
    assert len(lines) == 3
    newest, middle, oldest = lines
    assert f"source={payments}/0/1" in newest
    assert "reason=event of 203 bytes exceeds the limit" in newest
    assert "203B" in newest
    assert "x\\x00\\n" + "y" * 73 + "..." in newest
    assert f"source={ledger}/1/3" in middle
    assert "reason=no type" in middle
    assert f"source={ledger}/0/7" in oldest
    assert "not json{" in oldest
    oldest_at = dt.datetime.fromtimestamp(BASE_MS / 1000, dt.UTC)
    assert oldest_at.strftime("%Y-%m-%dT%H:%M:%S.000Z") in oldest

    assert run(settings, "list", "--limit", "1") == (0, [newest])
    code, filtered = run(settings, "list", "--reason", "not JSON")
    assert filtered == [oldest]
    code, as_json = run(settings, "list", "--json", "--reason", "type")
    assert [codec.loads(line)["source"] for line in as_json] == [f"{ledger}/1/3"]
    assert codec.loads(as_json[0])["size"] == len(b'{"payload":{}}')


def test_replay_puts_the_original_bytes_back_once(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    settings = make_kafka_settings()
    topics = asyncio.run(ensure_topics(settings))
    ledger, payments = settings.topics
    garbage, typeless, big = b"not json{", b'{"payload":{"n":1}}', b'{"type":"X","pad":"zz"}'
    coordinates = write_dead_letters(
        settings,
        [
            (garbage, "not JSON: expected value", f"{ledger}/0/7"),
            (typeless, "no type", f"{payments}/1/3"),
            (big, "event of 23 bytes exceeds the limit", f"{ledger}/1/9"),
            (b"{}", "no type", f"{settings.topic_prefix}deleted/0/1"),
        ],
    )

    code, dry = run(settings, "replay", "--dry-run")
    assert code == 0
    assert dry[-1] == "would replay 3, skipped 0 (already replayed), failed 1"
    assert f"would replay {coordinates[0]} -> {ledger}/0/7" in dry
    assert any("source topic does not exist" in line for line in dry)
    assert read_topic(settings, ledger) == []
    assert read_topic(settings, payments) == []
    assert not topic_exists(settings, marker_topic(topics))

    code, first = run(settings, "replay", "--reason", "no type")
    assert code == 0
    assert first[-1] == "replayed 1, skipped 0 (already replayed), failed 1"
    assert read_topic(settings, payments) == [
        (typeless, {"dead_letter_replay": coordinates[1].encode()})
    ]
    assert read_topic(settings, ledger) == []  # not selected by the reason

    code, second = run(settings, "replay")
    assert code == 0
    assert second[-1] == "replayed 2, skipped 1 (already replayed), failed 1"
    assert f"skipped {coordinates[1]}: already replayed" in second
    assert sorted(read_topic(settings, ledger)) == sorted(
        [
            (garbage, {"dead_letter_replay": coordinates[0].encode()}),
            (big, {"dead_letter_replay": coordinates[2].encode()}),
        ]
    )

    code, third = run(settings, "replay")
    assert code == 0
    assert third[-1] == "replayed 0, skipped 3 (already replayed), failed 1"
    assert len(read_topic(settings, ledger)) == 2
    assert len(read_topic(settings, payments)) == 1
