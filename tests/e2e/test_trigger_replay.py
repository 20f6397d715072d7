"""Replaying past events into a trigger created after them (an extension), through
the real API and worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.structs import TopicPartition

from streams import format_time
from tests.e2e.conftest import Stack
from tests.e2e.test_walking_skeleton import committed_transaction, create_definitions, poll

pytestmark = pytest.mark.e2e

# Record timestamps set by the producer: the window is exact, whatever the clock does.
BASE_MS = (int(time.time()) - 3600) * 1000


def at(ms: int) -> str:
    import datetime as dt

    return format_time(dt.datetime.fromtimestamp(ms / 1000, dt.UTC))


async def publish_at(
    stack: Stack, events: list[tuple[int, dict[str, Any]]], partition: int | None = None
) -> list[Any]:
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        return [
            await producer.send_and_wait(
                stack.kafka.topics[0],
                json.dumps(event).encode(),
                timestamp_ms=ms,
                partition=partition,
            )
            for ms, event in events
        ]
    finally:
        await producer.stop()


def replay(http: httpx.Client, trigger_id: str, **window: str) -> dict[str, Any]:
    body = {"from": window["start"], **({"to": window["end"]} if "end" in window else {})}
    response = http.post(f"/v2/triggers/{trigger_id}/replay", json=body)
    assert response.status_code == 202, response.text
    started: dict[str, Any] = response.json()["data"]
    status = poll(
        lambda: http.get(f"/v2/triggers/{trigger_id}/replays/{started['id']}").json()["data"],
        lambda s: s["done"],
        timeout=60,
    )
    assert status["done"], status
    assert status["error"] is None, status
    return dict(status)


def occurrence_tx_ids(http: httpx.Client, trigger_id: str) -> list[int]:
    rows = http.get(f"/v2/triggers/{trigger_id}/occurrences").json()["cursor"]["data"]
    return sorted(r["event"]["payload"]["transactions"][0]["id"] for r in rows)


async def test_a_replay_matches_past_events_in_its_window_exactly_once(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack()
    await publish_at(
        stack,
        [
            (BASE_MS, committed_transaction(1, key="before")),
            (BASE_MS + 1000, committed_transaction(2, key="in-1")),
            (BASE_MS + 1500, committed_transaction(3, key="in-other", ledger="other")),
            (BASE_MS + 2000, committed_transaction(4, key="in-2")),
            (BASE_MS + 3000, committed_transaction(5, key="after")),
        ],
    )
    _, trigger_id = create_definitions(stack)
    window = {"start": at(BASE_MS + 500), "end": at(BASE_MS + 2000)}
    with stack.client() as http:
        status = replay(http, trigger_id, **window)
        assert (status["inWindow"], status["matched"], status["occurrences"]) == (3, 2, 2)
        assert status["starts"] == 2
        assert status["truncated"] is False
        found = poll(lambda: occurrence_tx_ids(http, trigger_id), lambda ids: len(ids) >= 2)
        assert found == [2, 4]

        again = replay(http, trigger_id, **window)
        # Matched again, but already recorded: nothing sent for them.
        assert (again["occurrences"], again["known"], again["starts"]) == (2, 2, 0)
        # The second replay's records share the first's keys (partitions): once
        # the instances' later records are projected, so are the replayed ones.
        rows = http.get(f"/v2/triggers/{trigger_id}/occurrences").json()["cursor"]["data"]
        for row in rows:
            instance = row["workflowInstanceID"]
            sent = http.post(f"/v2/instances/{instance}/events", json={"name": "go"})
            assert sent.status_code == 204, sent.text
            done = poll(
                lambda i=instance: http.get(f"/v2/instances/{i}").json()["data"],
                lambda body: body["terminated"],
            )
            assert done["terminated"] is True
            assert "error" not in done or not done["error"]
        assert occurrence_tx_ids(http, trigger_id) == [2, 4]


async def test_a_from_older_than_retention_is_reported_and_the_rest_replayed(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack()
    sent = await publish_at(
        stack,
        [
            (BASE_MS, committed_transaction(10, key="gone")),
            (BASE_MS + 1000, committed_transaction(11, key="kept")),
        ],
    )
    # Retention, on cue: the partition now starts after the first event.
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka.kafka_bootstrap_servers)
    await admin.start()
    try:
        first = sent[0]
        await admin.delete_records(
            {TopicPartition(first.topic, first.partition): RecordsToDelete(first.offset + 1)},
            timeout_ms=10_000,
        )
    finally:
        await admin.close()
    _, trigger_id = create_definitions(stack)
    with stack.client() as http:
        status = replay(http, trigger_id, start=at(BASE_MS - 60_000))
        assert status["truncated"] is True
        assert f"{first.topic}/{first.partition}" in status["message"]
        assert status["occurrences"] == 1
        assert poll(lambda: occurrence_tx_ids(http, trigger_id), bool) == [11]


def test_bad_replay_requests_get_the_upstream_error_envelope(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack(worker=False)
    with stack.client() as http:
        workflow = http.post("/v2/workflows", json={"stages": []}).json()["data"]["id"]
        trigger = http.post("/v2/triggers", json={"event": "X", "workflowID": workflow}).json()[
            "data"
        ]["id"]
        for body in ({}, {"from": "yesterday"}, {"from": "2025-03-04T10:00:00Z", "to": 3}):
            answer = http.post(f"/v2/triggers/{trigger}/replay", json=body)
            assert answer.status_code == 400, answer.text
            assert answer.json()["errorCode"] == "VALIDATION"
        answer = http.post(f"/v2/triggers/{trigger}/replay", content=b"{not json")
        assert answer.status_code == 400
        assert answer.json()["errorCode"] == "VALIDATION"
        answer = http.post("/v2/triggers/nope/replay", json={"from": "2025-03-04T10:00:00Z"})
        assert answer.status_code == 404
        assert answer.json()["errorCode"] == "NOT_FOUND"
        answer = http.get(f"/v2/triggers/{trigger}/replays/nope")
        assert answer.status_code == 404
        assert answer.json()["errorCode"] == "NOT_FOUND"


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compose", "replay", *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_cli_replays_straight_from_kafka(run_stack: Callable[..., Stack]) -> None:
    stack = run_stack()
    await publish_at(
        stack,
        [
            (BASE_MS + 1000, committed_transaction(21, key="cli-in")),
            (BASE_MS + 3000, committed_transaction(22, key="cli-after")),
        ],
    )
    _, trigger_id = create_definitions(stack)
    window = ["--from", at(BASE_MS), "--to", at(BASE_MS + 2000)]
    # The trigger reaches the definitions topic through the outbox relay.
    done = poll(
        lambda: cli(stack, "--trigger", trigger_id, *window),
        lambda run: "not found" not in run.stderr,
    )
    assert done.returncode == 0, done.stderr
    assert "1 occurrences (0 already recorded, 1 start commands sent)" in done.stdout
    with stack.client() as http:
        assert poll(lambda: occurrence_tx_ids(http, trigger_id), bool) == [21]
    # Its database named in the environment, the CLI skips what is recorded.
    again = cli(stack, "--trigger", trigger_id, *window)
    assert again.returncode == 0, again.stderr
    assert "1 occurrences (1 already recorded, 0 start commands sent)" in again.stdout
    unknown = cli(stack, "--trigger", "nope", *window)
    assert unknown.returncode == 1
    assert "trigger nope not found" in unknown.stderr
    bad = cli(stack, "--trigger", trigger_id, "--from", "yesterday")
    assert bad.returncode == 2
    assert "'from' is not an RFC 3339 timestamp" in bad.stderr
