"""A garbage event through a running worker, `dead-letters replay`, and back again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from compose.cli import app
from compose.deadletters.kafka import dead_letters
from compose.deadletters.letters import DeadLetter
from streams import KafkaSettings
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def letters(settings: KafkaSettings, count: int) -> list[DeadLetter]:
    """The dead-letter topic once it holds `count` records, oldest first."""

    async def read() -> list[DeadLetter]:
        return [letter async for letter in dead_letters(settings)]

    deadline = time.monotonic() + 60
    while len(found := asyncio.run(read())) < count:
        assert time.monotonic() < deadline, f"{len(found)} dead letters, waiting for {count}"
        time.sleep(0.3)
    return sorted(found, key=lambda letter: letter.timestamp_ms)


def test_a_replayed_garbage_event_is_dead_lettered_again_naming_its_replay(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack()
    ledger = stack.kafka.topics[0]

    async def publish() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.kafka_bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(
                ledger, b"not json{", headers=[("_watermill_message_uuid", b"m-1")]
            )
        finally:
            await producer.stop()

    asyncio.run(publish())
    [first] = letters(stack.kafka, 1)
    assert first.source.startswith(f"{ledger}/")
    assert "not JSON" in first.reason

    env = {
        "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": stack.kafka.kafka_bootstrap_servers,
        "ORCHESTRATION_TOPIC_PREFIX": stack.kafka.topic_prefix,
    }
    result = CliRunner().invoke(app, ["dead-letters", "replay"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "replayed 1, skipped 0 (already replayed), failed 0"

    # The worker reads it from the source topic again and rejects it again:
    # the new dead letter names the replay, and the original headers survived.
    first_again, second = letters(stack.kafka, 2)
    assert first_again == first
    assert second.value == b"not json{"
    assert second.source != first.source
    assert second.source.startswith(f"{ledger}/")
    assert dict(second.original_headers) == {
        "_watermill_message_uuid": b"m-1",
        "dead_letter_replay": first.coordinates.encode(),
    }

    listed = CliRunner().invoke(app, ["dead-letters", "list"], env=env).stdout.splitlines()
    assert f"replay_of={first.coordinates}" in listed[0]  # newest first
    assert "replay_of" not in listed[1]
