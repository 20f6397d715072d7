"""The trigger pipeline under faults, with exact counts afterwards (issue 11, section 3).

Real processes (`orchestration api`, `worker`), a real broker and PostgreSQL;
a test that stops a server starts its own (`own_kafka`, `own_postgres`).
Every event carries its own idempotency key, and each test ends by counting
the occurrence rows per (trigger, key) in the database: every expected one
exactly once, none missing, none extra.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from compose.deadletters.kafka import dead_letters
from compose.localstack import KafkaBroker, PostgresCluster, free_port
from streams import KafkaSettings, codec
from tests.conftest import create_database
from tests.e2e.conftest import Stack, run_stack
from tests.e2e.helpers import create_trigger

__all__ = ["run_stack"]  # the process fixture, shared

pytestmark = pytest.mark.e2e

Coordinates = tuple[int, int]  # (partition, offset) in the inbound topic


def event(key: str, *, ledger: str = "main", pad: int = 0) -> bytes:
    payload: dict[str, Any] = {"ledger": ledger, "transactions": [{"id": 1, "postings": []}]}
    if pad:
        payload["pad"] = "x" * pad
    return codec.dumps(
        {
            "idempotency_key": key,
            "date": "2025-03-04T09:00:01Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "payload": payload,
        }
    )


def keys(start: int, stop: int) -> list[str]:
    return [f"e{i}" for i in range(start, stop)]


def define(stack: Stack, filter_: str = 'event.ledger == "main"') -> str:
    """A stage-less workflow and a trigger on it; returns the trigger id."""
    with stack.client() as client:
        workflow = client.post("/v2/workflows", json={"name": "w", "stages": []})
        assert workflow.status_code == 201, workflow.text
        return create_trigger(client, workflow.json()["data"]["id"], filter=filter_)


def occurrences(database: str, trigger_id: str) -> Counter[str]:
    """Occurrence rows of the trigger per event idempotency key."""
    with psycopg.connect(database, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT event->>'idempotency_key', count(*) FROM triggers_occurrences"
            " WHERE trigger_id = %s GROUP BY 1",
            (trigger_id,),
        ).fetchall()
    return Counter({key: n for key, n in rows})


def instances(database: str, trigger_id: str) -> Counter[str]:
    """Projected instances started by the trigger's occurrences, per event key."""
    with psycopg.connect(database, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT o.event->>'idempotency_key', count(*) FROM triggers_occurrences o"
            " JOIN workflow_instances i ON i.id = o.workflow_instance_id"
            " WHERE o.trigger_id = %s GROUP BY 1",
            (trigger_id,),
        ).fetchall()
    return Counter({key: n for key, n in rows})


def events_only(counts: Counter[str]) -> Counter[str]:
    """Without the probes that waited for the trigger to be live."""
    return Counter({k: n for k, n in counts.items() if not k.startswith("probe")})


def assert_exactly_once(counts: Counter[str], expected: Iterable[str]) -> None:
    wanted = set(expected)
    got = events_only(counts)
    missing = wanted - got.keys()
    extra = got.keys() - wanted
    doubled = {k: n for k, n in got.items() if n != 1}
    assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} unexpected, e.g. {sorted(extra)[:5]}"
    assert not doubled, f"{len(doubled)} more than once, e.g. {list(doubled.items())[:5]}"


def producer_for(kafka: KafkaSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=kafka.kafka_bootstrap_servers, enable_idempotence=True, linger_ms=5
    )


async def send(
    producer: AIOKafkaProducer, topic: str, values: Sequence[tuple[str, bytes | None]]
) -> dict[str, Coordinates]:
    """Send (key, value) pairs; returns where each landed."""
    futures = [
        # A tombstone (no value) needs a record key; events go keyless.
        await producer.send(topic, value, key=None if value else key.encode())
        for key, value in values
    ]
    sent = await asyncio.gather(*futures)
    return {key: (meta.partition, meta.offset) for (key, _), meta in zip(values, sent, strict=True)}


async def produce(
    kafka: KafkaSettings, values: Sequence[tuple[str, bytes | None]], *, topic: int = 0
) -> dict[str, Coordinates]:
    """`send` on a producer of its own, to inbound topic number `topic`."""
    producer = producer_for(kafka)
    await producer.start()
    try:
        return await send(producer, kafka.topics[topic], values)
    finally:
        await producer.stop()


async def until_live(stack: Stack, trigger_id: str) -> None:
    """Publish probe events until one matches: the trigger reached the worker."""
    for attempt in range(40):
        await produce(stack.kafka, [(f"probe-{attempt}", event(f"probe-{attempt}"))])
        if await wait_for(lambda: occurrences(stack.database_url, trigger_id), bool, within=1.5):
            return
    raise AssertionError("the trigger never matched a probe")


async def wait_for(fetch: Callable[[], Any], done: Callable[[Any], bool], within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def all_projected(database: str, trigger_id: str, expected: int, within: float) -> float:
    """Until `expected` event occurrences are visible (returns how long that
    took), then a moment more, for a redelivery that would (wrongly) add one."""
    began = time.monotonic()
    await wait_for(
        lambda: events_only(occurrences(database, trigger_id)).total(),
        lambda n: n >= expected,
        within,
    )
    took = time.monotonic() - began
    await asyncio.sleep(2)
    return took


def worker_metric(stack: Stack, name: str, **labels: str) -> float:
    text = httpx.get(f"{stack.worker_url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


# 1 -------------------------------------------------------------------------


async def test_the_broker_stopped_and_restarted_mid_stream_loses_and_doubles_nothing(
    own_kafka: KafkaBroker,  # first: set up before the stack, torn down after it
    run_stack: Callable[..., Stack],
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    kafka = make_kafka_settings(kafka_bootstrap_servers=own_kafka.bootstrap_servers)
    stack = run_stack(kafka=kafka, log_level="WARNING")
    trigger = define(stack)
    await until_live(stack, trigger)
    first, second = keys(0, 1500), keys(1500, 2000)
    await produce(kafka, [(k, event(k)) for k in first])
    # Stop the broker (same port and data kept) while the worker is at it.
    await wait_for(lambda: events_only(occurrences(stack.database_url, trigger)), bool, 60)
    own_kafka.halt()
    at_stop = events_only(occurrences(stack.database_url, trigger)).total()
    await asyncio.sleep(3)
    own_kafka.start()
    await produce(kafka, [(k, event(k)) for k in second])
    took = await all_projected(stack.database_url, trigger, 2000, within=120)
    print(f"broker restart: {at_stop} of {len(first)} visible at the stop, all {took:.1f} s later")

    assert 0 < at_stop < len(first), "the broker must stop mid-stream"
    assert_exactly_once(occurrences(stack.database_url, trigger), first + second)
    assert_exactly_once(instances(stack.database_url, trigger), first + second)
    assert all(proc.poll() is None for proc in stack.processes.values())


# 2 -------------------------------------------------------------------------

OUTAGE_S = 30


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text[:500]
    body = answer.json()
    assert set(body) == {"errorCode", "errorMessage"}
    assert body["errorCode"] == "INTERNAL"
    assert "Traceback" not in answer.text


async def history_keys(stack: Stack, wanted: set[str], within: float) -> set[str]:
    """Event keys of the occurrences on the occurrences topic (matched, maybe not
    projected yet), read until all of `wanted` showed or for `within` seconds."""
    consumer = AIOKafkaConsumer(
        stack.topics.occurrences,
        bootstrap_servers=stack.kafka.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + within
        while not wanted <= seen and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    body = codec.loads(record.value or b"{}")
                    if body.get("type") == "trigger.occurred":
                        seen.add(body["occurrence"]["event"]["idempotency_key"])
    finally:
        await consumer.stop()
    return seen


async def test_postgres_down_for_30_s_answers_503_keeps_matching_and_catches_up(
    own_postgres: PostgresCluster,  # first: set up before the stack, torn down after it
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack(database=create_database(own_postgres.url), log_level="WARNING")
    trigger = define(stack)
    await until_live(stack, trigger)
    before, during = keys(0, 500), keys(500, 1000)
    await produce(stack.kafka, [(k, event(k)) for k in before])
    await all_projected(stack.database_url, trigger, len(before), within=60)

    own_postgres.halt()
    down_at = time.monotonic()
    await produce(stack.kafka, [(k, event(k)) for k in during])
    # A hung request fails here on the client's timeout: answers must be prompt.
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=5) as client:
        assert_unavailable(await client.get(f"/v2/triggers/{trigger}/occurrences"))
        assert_unavailable(await client.get("/v2/workflows"))
        assert_unavailable(await client.get("/triggers"))  # v1
        assert_unavailable(await client.post("/v2/workflows", json={"name": "x", "stages": []}))
    # Matching needs no database: the occurrences are on their topic.
    matched = await history_keys(stack, set(during), within=OUTAGE_S - 5)
    assert set(during) <= matched, f"{len(set(during) - matched)} not matched while down"
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=5) as client:
        assert_unavailable(await client.get(f"/v2/triggers/{trigger}/occurrences"))
    own_postgres.start()
    took = await all_projected(stack.database_url, trigger, len(before) + len(during), within=90)
    print(f"postgres down {OUTAGE_S} s: all occurrences visible {took:.1f} s after its restart")
    assert_exactly_once(occurrences(stack.database_url, trigger), before + during)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=5) as client:
        listed = await client.get(f"/v2/triggers/{trigger}/occurrences")
    assert listed.status_code == 200, listed.text[:500]
    assert all(proc.poll() is None for proc in stack.processes.values())


# 3 -------------------------------------------------------------------------


async def test_a_rebalance_storm_of_three_workers_loses_and_doubles_nothing(
    run_stack: Callable[..., Stack],
    make_kafka_settings: Callable[..., KafkaSettings],
    tmp_path: Path,
) -> None:
    stack = run_stack(kafka=make_kafka_settings(partitions=4), log_level="WARNING")
    trigger = define(stack)
    await until_live(stack, trigger)
    slots = ["worker", "worker-b", "worker-c"]
    starts = Counter[str]()

    def start(slot: str) -> None:
        starts[slot] += 1
        port = stack.env["ORCHESTRATION_WORKER_METRICS_PORT"] if slot == "worker" else free_port()
        stack.spawn(slot, tmp_path / f"{slot}-{starts[slot]}.log", worker_metrics_port=str(port))

    for slot in slots[1:]:
        start(slot)
    expected = keys(0, 2400)

    async def stream() -> None:
        for n in range(0, len(expected), 100):  # 2,400 events over ~12 s of storm
            chunk = expected[n : n + 100]
            await produce(stack.kafka, [(k, event(k)) for k in chunk], topic=n // 100 % 2)
            await asyncio.sleep(0.5)

    producing = asyncio.create_task(stream())
    draw = random.Random(20261203)  # fixed: a failing run can be replayed
    actions = Counter[str]()
    leaving: set[str] = set()
    while not producing.done() or actions.total() < 15:
        await asyncio.sleep(draw.uniform(0.4, 1.2))
        slot = draw.choice(slots)
        proc = stack.processes[slot]
        if slot in leaving:
            if proc.poll() is not None:  # else still shutting down: next time
                leaving.discard(slot)
                start(slot)
                actions["join"] += 1
        elif draw.random() < 0.5:
            proc.send_signal(signal.SIGTERM)  # a clean leave: the group rebalances at once
            leaving.add(slot)
            actions["leave"] += 1
        else:
            proc.kill()  # no goodbye: its partitions move after the session timeout
            leaving.add(slot)
            actions["kill"] += 1
    await producing
    for slot in leaving:
        stack.processes[slot].wait(timeout=30)
        start(slot)
    await all_projected(stack.database_url, trigger, len(expected), within=120)

    print(f"rebalance storm: {dict(actions)}, worker starts {dict(starts)}")
    assert min(actions["kill"], actions["leave"], actions["join"]) > 0
    assert_exactly_once(occurrences(stack.database_url, trigger), expected)
    assert_exactly_once(instances(stack.database_url, trigger), expected)


# 4 -------------------------------------------------------------------------

MAX_EVENT_BYTES = 4096


def bad_message(i: int, draw: random.Random) -> bytes | None:
    """Garbage, oversized, or not an envelope: nine kinds in turn."""
    kind = i // 10 % 9
    if kind == 0:
        return draw.randbytes(draw.randint(20, 300))
    if kind == 1:  # a matching envelope, but over the size bound
        return event(f"big-{i}", pad=MAX_EVENT_BYTES)
    if kind == 2:
        return b"[1, 2, 3]"
    if kind == 3:
        return b'{"payload": {"ledger": "main"}}'
    if kind == 4:
        return b'{"type": "COMMITTED_TRANSACTIONS", "version": "v2"}'
    if kind == 5:
        return b""
    if kind == 6:
        return None  # a tombstone
    if kind == 7:  # invalid UTF-8
        return b'{"type": "COMMITTED_TRANSACTIONS", "payload": {"ledger": "\xff\xfe"}}'
    deep = b"[" * 200 + b"]" * 200  # nesting beyond the decoder's bound
    return b'{"type": "COMMITTED_TRANSACTIONS", "payload": {"a": ' + deep + b"}}"


async def test_a_flood_with_ten_percent_bad_messages_matches_the_good_and_dead_letters_the_bad(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack(max_event_bytes=str(MAX_EVENT_BYTES), log_level="ERROR")
    trigger = define(stack)
    await until_live(stack, trigger)
    worker = stack.processes["worker"]
    draw = random.Random(11)
    messages: list[tuple[str, bytes | None]] = []
    for i in range(3000):
        if i % 10 == 9:
            messages.append((f"bad-{i}", bad_message(i, draw)))
        else:
            messages.append((f"e{i}", event(f"e{i}")))
    landed = await produce(stack.kafka, messages)
    good = [key for key, _ in messages if key.startswith("e")]
    bad = {f"{stack.kafka.topics[0]}/{p}/{o}" for key, (p, o) in landed.items() if key[0] == "b"}

    await all_projected(stack.database_url, trigger, len(good), within=90)
    letters = [letter async for letter in dead_letters(stack.kafka)]
    assert_exactly_once(occurrences(stack.database_url, trigger), good)
    assert Counter(letter.source for letter in letters) == Counter(bad)  # each once, nothing else
    assert worker_metric(stack, "orchestration_inbound_events_total", outcome="dead_letter") == len(
        bad
    )
    assert worker.poll() is None
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(f"{stack.worker_url}/healthz")).status_code == 200


# 5 -------------------------------------------------------------------------


def runs(offsets: Iterable[int]) -> int:
    """How many contiguous runs the sorted offsets form."""
    ordered = sorted(offsets)
    return sum(
        1 for a, b in zip([None, *ordered], ordered, strict=False) if a is None or b != a + 1
    )


async def test_a_trigger_created_mid_stream_applies_from_then_on_and_a_deleted_one_stops(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack(log_level="WARNING")
    everything = define(stack, filter_="")  # the control: sees every event
    await until_live(stack, everything)
    workflow_id = workflow_of(stack, everything)
    produced_at: dict[str, float] = {}
    where: dict[str, Coordinates] = {}
    stop = asyncio.Event()

    async def stream() -> None:
        producer = producer_for(stack.kafka)
        await producer.start()
        try:
            n = 0
            while not stop.is_set():  # ~300 events/s
                chunk = keys(n, n + 15)
                now = time.monotonic()
                where.update(await send(producer, topic, [(k, event(k)) for k in chunk]))
                produced_at.update(dict.fromkeys(chunk, now))
                n += 15
                await asyncio.sleep(0.05)
        finally:
            await producer.stop()

    topic = stack.kafka.topics[0]
    producing = asyncio.create_task(stream())
    await asyncio.sleep(1.5)
    with stack.client() as client:
        trigger = create_trigger(client, workflow_id, filter='event.ledger == "main"')
        created_at = time.monotonic()
        rows = await wait_for(
            lambda: occurrences(stack.database_url, trigger),
            lambda found: any(produced_at.get(k, 0) > created_at for k in found),
            within=60,
        )
        visible_after = time.monotonic() - created_at
        assert rows, "the new trigger never matched"
        assert client.delete(f"/v2/triggers/{trigger}").status_code == 204
        deleted_at = time.monotonic()

    def tail_unmatched() -> int:
        """Events the control matched after the new trigger's last match."""
        matched = occurrences(stack.database_url, trigger)
        last = max(produced_at[k] for k in matched if k in produced_at)
        return sum(
            1 for k in occurrences(stack.database_url, everything) if produced_at.get(k, 0) > last
        )

    await wait_for(tail_unmatched, lambda n: n >= 400, within=60)
    stop.set()
    await producing
    await all_projected(stack.database_url, everything, len(produced_at), within=60)

    assert_exactly_once(occurrences(stack.database_url, everything), produced_at)
    matched = events_only(occurrences(stack.database_url, trigger))
    assert all(n == 1 for n in matched.values())
    for partition in {p for p, _ in where.values()}:
        mine = [o for k, (p, o) in where.items() if p == partition]
        hits = [where[k][1] for k in matched if where[k][0] == partition]
        # Matched from some event on, every event until some later one, none after.
        assert hits, f"partition {partition}: nothing matched"
        assert runs(hits) == 1, f"partition {partition}: a gap in the matched events"
        assert min(mine) < min(hits), f"partition {partition}: matched from its start"
        assert max(hits) < max(mine), f"partition {partition}: matched after its delete"
    first = min(produced_at[k] for k in matched)
    last = max(produced_at[k] for k in matched)
    print(
        f"trigger live {first - created_at:+.2f} s after its 201 (produce time of the first"
        f" event it matched), that occurrence visible after {visible_after:.2f} s;"
        f" deleted: the last event it matched was produced {last - deleted_at:+.2f} s"
        " after the DELETE's 204"
    )


def workflow_of(stack: Stack, trigger_id: str) -> str:
    with stack.client() as client:
        workflow_id: str = client.get(f"/v2/triggers/{trigger_id}").json()["data"]["workflowID"]
    return workflow_id
