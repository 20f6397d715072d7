"""Trigger matching throughput: one core in-process, then the whole worker
pipeline through a real Kafka broker into PostgreSQL.

    python benchmarks/matching.py [--events 20000] [--triggers 100]

Prints one markdown table: events/s, latency percentiles, peak memory.
Uses ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS / ORCHESTRATION_DATABASE_URL when
set, else starts the local stack (compose.localstack).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer

# benchmarks/engine.py would shadow the `engine` package: import from the
# repository root, not from benchmarks/ (what `python benchmarks/x.py` puts first).
sys.path[0] = str(Path(__file__).resolve().parents[1])

from engine.db import create_db_engine, migrate  # noqa: E402
from engine.matching import match_record  # noqa: E402
from engine.settings import DatabaseSettings  # noqa: E402
from engine.worker import Worker  # noqa: E402
from streams import KafkaSettings  # noqa: E402
from triggers import Trigger, TriggerIndex  # noqa: E402


def event(i: int, ledger: str = "main", sent_at: float = 0.0) -> bytes:
    return json.dumps(
        {
            "idempotency_key": f"bench-{i}-{sent_at}",
            "date": "2025-03-04T09:00:01.25Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "payload": {
                "ledger": ledger,
                "transactions": [
                    {
                        "id": i,
                        "postings": [
                            {
                                "source": "world",
                                "destination": f"users:{i % 1000:03d}",
                                "amount": 500 + i % 2000,
                                "asset": "EUR/2",
                            }
                        ],
                        "metadata": {"kind": "payout" if i % 2 else "refund"},
                        "timestamp": "2025-03-04T09:00:01.2Z",
                        "insertedAt": "2025-03-04T09:00:01.21Z",
                        "reverted": False,
                    }
                ],
                "accountMetadata": {},
                "sentAt": sent_at,
            },
        }
    ).encode()


def build_index(triggers: int, workflow: str = "w1") -> TriggerIndex:
    """`triggers` triggers on the event type; one in ten matches a given event."""
    index = TriggerIndex()
    index.put_workflow(workflow, deleted=False)
    for n in range(triggers):
        index.put_trigger(
            Trigger(
                id=f"t{n:04d}",
                workflow_id=workflow,
                event="COMMITTED_TRANSACTIONS",
                filter=f'event.ledger == "main" && int(event.transactions[0].id) % 10 == {n % 10}',
                vars={"txID": "event.transactions[0].id"},
            )
        )
    return index


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def bench_in_process(events: int, triggers: int) -> dict[str, Any]:
    index = build_index(triggers)
    raws = [event(i) for i in range(events)]
    latencies: list[float] = []
    matched = 0
    started = time.perf_counter()
    for raw in raws:
        t0 = time.perf_counter()
        result = match_record(raw, None, index, coordinates="b/0/0", max_bytes=1 << 20)
        latencies.append((time.perf_counter() - t0) * 1e6)
        matched += result.matched
    elapsed = time.perf_counter() - started
    return {
        "events_per_s": events / elapsed,
        "p50_us": pct(latencies, 50),
        "p99_us": pct(latencies, 99),
        "occurrences": matched,
    }


@contextlib.contextmanager
def local_stack() -> Iterator[tuple[str, str]]:
    bootstrap = os.environ.get("ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("ORCHESTRATION_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        if not bootstrap:
            from compose.localstack import KafkaBroker

            bootstrap = stack.enter_context(KafkaBroker()).bootstrap_servers
        if not database:
            from compose.localstack import PostgresCluster

            database = stack.enter_context(PostgresCluster()).url
        yield bootstrap, database


async def bench_pipeline(
    bootstrap: str, database: str, events: int, triggers: int
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=f"bench{tag}.",
        topics=[f"bench{tag}.ledger"],
        consumer_group=f"bench-{tag}",
        partitions=4,
    )
    migrate(database)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO workflows (id, config) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (f"w{tag}", json.dumps({"stages": []})),
        )
        for n in range(triggers):
            conn.execute(
                "INSERT INTO triggers (id, workflow_id, event) VALUES (%s, %s, %s)",
                (f"{tag}-t{n:04d}", f"w{tag}", "COMMITTED_TRANSACTIONS"),
            )
    db = create_db_engine(DatabaseSettings(database_url=database))
    worker = Worker(kafka, db)
    # Load the index directly: the definitions path is measured by the e2e tests.
    for n in range(triggers):
        worker.index.put_trigger(
            Trigger(
                id=f"{tag}-t{n:04d}",
                workflow_id=f"w{tag}",
                event="COMMITTED_TRANSACTIONS",
                filter=f'event.ledger == "main" && int(event.transactions[0].id) % 10 == {n % 10}',
                vars={"txID": "event.transactions[0].id"},
            )
        )
    worker.index.put_workflow(f"w{tag}", deleted=False)
    await worker.start()
    expected = sum(1 for i in range(events) for n in range(triggers) if i % 10 == n % 10)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    for i in range(events):
        await producer.send(kafka.topics[0], event(i))
    await producer.flush()
    produced = time.perf_counter() - started
    await producer.stop()
    samples: list[tuple[float, int]] = []
    with psycopg.connect(database, autocommit=True) as conn:
        while True:
            count = conn.execute(
                "SELECT count(*) FROM triggers_occurrences WHERE trigger_id LIKE %s",
                (f"{tag}-%",),
            ).fetchone()[0]  # type: ignore[index]
            samples.append((time.perf_counter() - started, count))
            if count >= expected or time.perf_counter() - started > 600:
                break
            await asyncio.sleep(0.25)
    elapsed = samples[-1][0]

    # Latency at a sustainable rate: 200 events/s for 5 s, each stamped with
    # its send time; the occurrence's `date` is when the worker matched it.
    paced = 1000
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    first = events
    for i in range(paced):
        await producer.send(kafka.topics[0], event(first + i, sent_at=time.time()))
        await asyncio.sleep(1 / 200)
    await producer.flush()
    await producer.stop()
    latencies: list[float] = []
    paced_expected = expected + sum(
        1 for i in range(first, first + paced) for n in range(triggers) if i % 10 == n % 10
    )
    with psycopg.connect(database, autocommit=True) as conn:
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            rows = conn.execute(
                "SELECT extract(epoch FROM date) - (event->'payload'->>'sentAt')::float8"
                " FROM triggers_occurrences WHERE trigger_id LIKE %s"
                " AND (event->'payload'->>'sentAt')::float8 > 0",
                (f"{tag}-%",),
            ).fetchall()
            if len(rows) + expected >= paced_expected:
                latencies = [r[0] * 1000 for r in rows]
                break
            await asyncio.sleep(0.25)
    await worker.stop()
    await db.dispose()
    return {
        "events_per_s": events / elapsed,
        "occurrences_per_s": samples[-1][1] / elapsed,
        "produce_s": produced,
        "drain_s": elapsed,
        "occurrences": samples[-1][1],
        "expected": expected,
        "match_p50_ms": pct(latencies, 50) if latencies else float("nan"),
        "match_p99_ms": pct(latencies, 99) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--triggers", type=int, default=100)
    args = parser.parse_args()

    inproc = bench_in_process(args.events, args.triggers)
    with local_stack() as (bootstrap, database):
        pipe = asyncio.run(bench_pipeline(bootstrap, database, args.events, args.triggers))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(
        f"\n{args.events} ledger events, {args.triggers} triggers on the type "
        f"(each event matches {args.triggers // 10}), one worker process, 2-core machine\n"
    )
    print("| stage | events/s | occurrences/s | p50 | p99 | notes |")
    print("|---|---|---|---|---|---|")
    print(
        f"| match_record, in process, 1 core | {inproc['events_per_s']:,.0f} | "
        f"{inproc['events_per_s'] * args.triggers / 10:,.0f} | {inproc['p50_us']:.0f} µs | "
        f"{inproc['p99_us']:.0f} µs | decode + index + {args.triggers} filters + vars |"
    )
    print(
        "| Kafka -> match -> occurrences topic -> Postgres, flat out | "
        f"{pipe['events_per_s']:,.0f} | "
        f"{pipe['occurrences_per_s']:,.0f} | - | - | {pipe['occurrences']}/{pipe['expected']} "
        f"occurrences in {pipe['drain_s']:.1f} s (produce {pipe['produce_s']:.1f} s) |"
    )
    print(
        f"| publish -> matched, at 200 events/s | 200 | - | {pipe['match_p50_ms']:.1f} ms | "
        f"{pipe['match_p99_ms']:.1f} ms | send time to the occurrence's `date` |"
    )
    print(f"\npeak RSS of the benchmark process (worker included): {peak_mb:.0f} MiB")


if __name__ == "__main__":
    main()
