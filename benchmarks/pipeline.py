"""The trigger pipeline end to end: Kafka -> one worker -> history -> Postgres.

    python benchmarks/pipeline.py [--scale 1.0] [--rate 1000] [--seconds 10] [--profile]

Real processes on this machine: the local Kafka broker and PostgreSQL
(compose.localstack, or ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS /
ORCHESTRATION_DATABASE_URL), `orchestration api` (the definitions: every
trigger is created with POST /v2/triggers and reaches the worker through the
outbox and the definitions topic, as in production) and one
`orchestration worker`, started fresh for each scenario:

- (a) nothing matches: events of a type no trigger listens to (the 200
  triggers of (b) are defined on another type);
- (b) 200 triggers on the event type with a mix of filters (ledger and
  metadata equality, amount thresholds, `in` lists, some with vars); 10% of
  the events match exactly one trigger;
- (c) the same with 1,000 triggers.

Per scenario: a backlog is produced while the worker is down, then the worker
starts and drains it: events/s from the match group's committed offsets,
occurrences/s until every expected occurrence is a row in Postgres. Then, with
the worker caught up (and idle: the instances the backlog started have their
first stage in Postgres too), events at a steady `--rate` for `--seconds`: the
latency from produce to the occurrence's row being visible in Postgres
(polled by primary key every 10 ms, so +-10 ms), p50/p95/p99. The worker's
peak RSS is its VmHWM. `--profile` runs each worker under cProfile and prints
its top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

# This file runs from benchmarks/, where engine.py would shadow the package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.engine import profile_summary  # noqa: E402
from benchmarks.matching import local_stack, pct  # noqa: E402
from benchmarks.measure import peak_rss_mib, serving  # noqa: E402
from compose.localstack._process import free_port  # noqa: E402
from engine.db import migrate  # noqa: E402
from streams import codec  # noqa: E402
from triggers import occurrence_id  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TYPE = "COMMITTED_TRANSACTIONS"
OTHER_TYPE = "SAVED_METADATA"
PARTITIONS = 4
# A 1 h delay: each occurrence starts an instance that stays live and cheap.
STAGES = [{"delay": {"duration": "1h"}}]


def trigger_body(n: int, workflow_id: str) -> dict[str, Any]:
    """Trigger `n` of the mix; the event of `matching_event(n)` matches it, and only it."""
    tx = "event.transactions[0]"
    posting = f"{tx}.postings[0]"
    filters = [
        f'event.ledger == "main" && {posting}.amount > 100'
        f' && {posting}.destination == "users:{n:04d}"',
        f'event.ledger == "main" && {tx}.metadata["campaign"] == "c{n}"',
        f'event.ledger == "main" && {posting}.asset in ["EUR/2", "USD/2"]'
        f' && {tx}.metadata.campaign == "c{n}"',
        f'event.ledger == "ledger-{n}" && {posting}.amount > 100',
        f'{tx}.metadata.campaign == "c{n}" && {posting}.source == "world"',
        f'{posting}.amount >= 100 && {tx}.metadata.campaign == "c{n}"',
    ]
    kind = n % len(filters)
    variables = (
        {"amount": f"{posting}.amount", "dst": f"{posting}.destination"} if kind % 2 == 0 else {}
    )
    return {
        "name": f"bench-{n}",
        "event": TYPE,
        "workflowID": workflow_id,
        "filter": filters[kind],
        "vars": variables,
    }


def payload(i: int, target: int | None, sent_at: float, rng: random.Random) -> dict[str, Any]:
    """A ledger transaction; `target` is the one trigger it matches (None: no trigger)."""
    kind = None if target is None else target % 6
    ledger = rng.choice(("main", "main", "main", "treasury", "payouts"))
    destination = f"users:{rng.randrange(5000, 9999):04d}"
    campaign = f"x{rng.randrange(100)}"
    amount = rng.randrange(1, 5000)
    asset = rng.choice(("EUR/2", "USD/2", "GBP/2"))
    if target is not None:
        asset = "EUR/2"
        ledger = f"ledger-{target}" if kind == 3 else "main"
        amount = 100 + rng.randrange(1, 5000)
        if kind == 0:
            destination = f"users:{target:04d}"
        else:
            campaign = f"c{target}"
    return {
        "ledger": ledger,
        "transactions": [
            {
                "id": i,
                "postings": [
                    {
                        "source": "world",
                        "destination": destination,
                        "amount": amount,
                        "asset": asset,
                    }
                ],
                "metadata": {"campaign": campaign, "order": f"o-{i}"},
                "timestamp": "2025-03-04T09:00:01.2Z",
                "insertedAt": "2025-03-04T09:00:01.21Z",
                "reverted": False,
            }
        ],
        "accountMetadata": {"world": {}, destination: {"tier": "gold"}},
        "sentAt": sent_at,
    }


def envelope(key: str, event_type: str, body: dict[str, Any]) -> bytes:
    return codec.dumps(
        {
            "idempotency_key": key,
            "date": "2025-03-04T09:00:01.25Z",
            "app": "ledger",
            "version": "v2",
            "type": event_type,
            "payload": body,
        }
    )


@dataclass
class Scenario:
    name: str
    label: str
    triggers: int
    event_type: str
    backlog: int
    # Every 10th event matches one trigger (none when nothing may match).
    matching: bool


@dataclass
class Outcome:
    events_s: float = 0.0
    occurrences_s: float | None = None
    occurrences: int = 0
    expected: int = 0
    latencies: list[float] = field(default_factory=list)
    matched: list[float] = field(default_factory=list)
    rss: float = 0.0
    load: str = ""
    profile: str = ""


class Bench:
    def __init__(self, bootstrap: str, database: str, workdir: Path, rng: random.Random) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.bootstrap, self.database, self.workdir, self.rng = bootstrap, database, workdir, rng
        self.topic = f"bench{self.tag}.ledger"
        self.group = f"bench-{self.tag}"
        self.api_port = free_port()
        self.metrics_port = free_port()
        self.env = {
            **os.environ,
            "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ORCHESTRATION_TOPICS": self.topic,
            "ORCHESTRATION_TOPIC_PREFIX": f"bench{self.tag}.",
            "ORCHESTRATION_CONSUMER_GROUP": self.group,
            "ORCHESTRATION_PARTITIONS": str(PARTITIONS),
            "ORCHESTRATION_DATABASE_URL": database,
            "ORCHESTRATION_API_HOST": "127.0.0.1",
            "ORCHESTRATION_API_PORT": str(self.api_port),
            "ORCHESTRATION_WORKER_METRICS_PORT": str(self.metrics_port),
            "ORCHESTRATION_LOG_LEVEL": "warning",
        }
        self.trigger_ids: list[str] = []
        self.workflow_id = ""
        self.produced = 0
        self.serial = 0
        self.matched_ms: list[float] = []

    # -- definitions through the API --------------------------------------
    def define(self, api: str, count: int) -> None:
        with httpx.Client(base_url=api, timeout=30) as http:
            if not self.workflow_id:
                made = http.post("/v2/workflows", json={"name": "bench", "stages": STAGES})
                made.raise_for_status()
                self.workflow_id = made.json()["data"]["id"]
            for n in range(len(self.trigger_ids), count):
                made = http.post("/v2/triggers", json=trigger_body(n, self.workflow_id))
                made.raise_for_status()
                self.trigger_ids.append(made.json()["data"]["id"])
        # The outbox relay publishes definitions to the topic the worker loads at start.
        with psycopg.connect(self.database, autocommit=True) as conn:
            while True:
                row = conn.execute("SELECT count(*) FROM outbox WHERE parked_at IS NULL").fetchone()
                if row is not None and row[0] == 0:
                    return
                time.sleep(0.1)

    # -- events -------------------------------------------------------------
    def event(self, scenario: Scenario, sent_at: float = 0.0) -> tuple[bytes, str | None]:
        """One event and the occurrence id it must produce (None: it matches nothing)."""
        i = self.serial
        self.serial += 1
        matches = scenario.matching and i % 10 == 0
        target = self.rng.randrange(scenario.triggers) if matches else None
        key = f"{self.tag}-{i}"
        value = envelope(key, scenario.event_type, payload(i, target, sent_at, self.rng))
        if target is None:
            return value, None
        return value, occurrence_id(self.trigger_ids[target], TYPE, None, "key:" + key)

    async def produce_backlog(self, scenario: Scenario) -> int:
        expected = 0
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=20)
        await producer.start()
        try:
            for _ in range(scenario.backlog):
                value, occurrence = self.event(scenario)
                expected += occurrence is not None
                await producer.send(self.topic, value)
            await producer.flush()
        finally:
            await producer.stop()
        self.produced += scenario.backlog
        return expected

    async def committed(self, admin: AIOKafkaAdminClient) -> int:
        """Offsets the match group committed on the inbound topic (0 before it exists)."""
        partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        try:
            offsets = await admin.list_consumer_group_offsets(self.group, partitions=partitions)
        except KafkaError:
            return 0  # no coordinator for the group yet
        return sum(max(o.offset, 0) for o in offsets.values())

    def occurrences(self, ids: list[str]) -> int:
        with psycopg.connect(self.database, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM triggers_occurrences WHERE trigger_id = ANY(%s)", (ids,)
            ).fetchone()
        return int(row[0]) if row else 0

    # -- the measurements -----------------------------------------------------
    async def drain(self, scenario: Scenario, expected: int, outcome: Outcome) -> None:
        """Events/s from the committed offsets, occurrences/s from Postgres rows."""
        ids = self.trigger_ids[: scenario.triggers] if scenario.matching else []
        already = self.occurrences(ids) if ids else 0
        target = self.produced
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            begin = self.produced - scenario.backlog
            first: tuple[float, int] | None = None
            deadline = time.perf_counter() + 900
            while True:
                now, done = time.perf_counter(), await self.committed(admin)
                if first is None and done > begin:
                    first = (now, done)
                if done >= target:
                    break
                if now > deadline:
                    raise SystemExit(f"{scenario.name}: {done}/{target} consumed after 900 s")
                await asyncio.sleep(0.05)
        finally:
            await admin.close()
        assert first is not None
        # From the first committed batch: excludes the group join, counts that batch's
        # records out (they were handled before the first sample).
        outcome.events_s = (done - first[1]) / max(now - first[0], 1e-9)
        outcome.expected = expected
        if not ids:
            return
        while True:
            found = self.occurrences(ids) - already
            if found >= expected or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.05)
        outcome.occurrences = found
        outcome.occurrences_s = found / (time.perf_counter() - first[0])
        # Caught up means idle: the instances the backlog started are still
        # being started (runner) and projected for a few seconds after the
        # last occurrence row; the steady phase must not measure that tail.
        settle = time.perf_counter()
        while waiting := self.unsettled(ids):
            if time.perf_counter() > deadline:
                raise SystemExit(f"{scenario.name}: {waiting} backlog instances never started")
            await asyncio.sleep(0.1)
        print(
            f"{scenario.name}: backlog's instances started {time.perf_counter() - settle:.1f} s"
            " after its last occurrence row",
            file=sys.stderr,
        )

    def unsettled(self, ids: list[str]) -> int:
        """Instances of these triggers' occurrences whose first stage is not in Postgres yet."""
        with psycopg.connect(self.database, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM triggers_occurrences o WHERE o.trigger_id = ANY(%s)"
                " AND o.workflow_instance_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
                " workflow_instance_stage_statuses s WHERE s.instance_id ="
                " o.workflow_instance_id AND s.stage = 0)",
                (ids,),
            ).fetchone()
        return int(row[0]) if row else 0

    async def paced(self, scenario: Scenario, rate: float, seconds: float) -> list[float]:
        """Produce -> occurrence row visible, in ms, for events at `rate`/s."""
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=0)
        await producer.start()
        count = int(rate * seconds)

        async def send() -> None:
            started = time.perf_counter()
            for n in range(count):
                value, occurrence = self.event(scenario, sent_at=time.time())
                if occurrence is not None:
                    sent[occurrence] = time.perf_counter()
                await producer.send(self.topic, value)
                await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.perf_counter()))
            await producer.flush()

        sending = asyncio.create_task(send())
        try:
            async with await psycopg.AsyncConnection.connect(
                self.database, autocommit=True
            ) as conn:
                deadline = time.perf_counter() + seconds + 120
                while time.perf_counter() < deadline:
                    pending = [o for o in sent if o not in seen]
                    if pending:
                        cursor = await conn.execute(
                            "SELECT id FROM triggers_occurrences WHERE id = ANY(%s)", (pending,)
                        )
                        now = time.perf_counter()
                        for (found,) in await cursor.fetchall():
                            seen[found] = now
                    elif sending.done():
                        break
                    await asyncio.sleep(0.01)
                # Where the time goes: the occurrence's `date` is when the worker matched it.
                cursor = await conn.execute(
                    "SELECT extract(epoch FROM date)::float8"
                    " - (event->'payload'->>'sentAt')::float8"
                    " FROM triggers_occurrences WHERE id = ANY(%s)",
                    (list(seen),),
                )
                self.matched_ms = [row[0] * 1000 for row in await cursor.fetchall()]
            await sending
        finally:
            await producer.stop()
        self.produced += count
        return [(seen[o] - sent[o]) * 1000 for o in seen]


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def worker(bench: Bench, name: str, profile: bool) -> Iterator[tuple[int, Path | None]]:
    stats = bench.workdir / f"worker-{name}.prof" if profile else None
    command = [sys.executable, "-m", "compose", "worker"]
    if stats is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "compose", "worker"]
    with serving(
        command,
        bench.metrics_port,
        label="worker",
        cwd=ROOT,
        env=bench.env,
        health="/readyz",
        log=bench.workdir / f"worker-{name}.log",
    ) as (_, pid):
        yield pid, stats


async def run_scenario(
    bench: Bench, scenario: Scenario, args: argparse.Namespace, outcome: Outcome
) -> None:
    expected = await bench.produce_backlog(scenario)
    print(f"{scenario.name}: {scenario.backlog} events queued, {load()}", file=sys.stderr)
    # The drain is watched from before the worker starts: it begins consuming
    # before its probe answers.
    draining = asyncio.create_task(bench.drain(scenario, expected, outcome))
    serving_worker = worker(bench, scenario.name, args.profile)
    pid, stats = await asyncio.to_thread(serving_worker.__enter__)
    try:
        await draining
        outcome.load = load()
        if scenario.matching:
            outcome.latencies = await bench.paced(scenario, args.rate, args.seconds)
            outcome.matched = bench.matched_ms
        outcome.rss = peak_rss_mib(pid)
    finally:
        await asyncio.to_thread(serving_worker.__exit__, None, None, None)
    if stats is not None:
        outcome.profile = profile_summary(stats, top=25)
    print(f"{scenario.name}: {outcome.events_s:,.0f} events/s, {outcome.load}", file=sys.stderr)


def scenarios(scale: float) -> list[Scenario]:
    def n(base: int) -> int:
        return max(1000, int(base * scale))

    return [
        Scenario("a", "(a) nothing matches", 200, OTHER_TYPE, n(100_000), matching=False),
        Scenario("b", "(b) 200 triggers, 10% match one", 200, TYPE, n(40_000), matching=True),
        Scenario("c", "(c) 1,000 triggers, 10% match one", 1000, TYPE, n(20_000), matching=True),
    ]


def ms(values: list[float], q: int) -> str:
    return f"{pct(values, q):.0f} ms" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="backlog size factor")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced events/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced duration")
    parser.add_argument("--only", default="abc", help="scenarios to run, e.g. `bc`")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    chosen = [s for s in scenarios(args.scale) if s.name in args.only]
    results: list[tuple[Scenario, Outcome]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp,
        local_stack() as (bootstrap, database),
    ):
        migrate(database)
        bench = Bench(bootstrap, database, Path(tmp), random.Random(args.seed))
        api_env = {**bench.env, "ORCHESTRATION_MIGRATE_ON_START": "false"}
        with serving(
            [sys.executable, "-m", "compose", "api"],
            bench.api_port,
            label="API",
            cwd=ROOT,
            env=api_env,
            log=Path(tmp) / "api.log",
        ) as (api, _):
            for scenario in chosen:
                bench.define(api, scenario.triggers)
                outcome = Outcome()
                asyncio.run(run_scenario(bench, scenario, args, outcome))
                results.append((scenario, outcome))

    print(
        f"\nOne worker process; broker, PostgreSQL, API and this producer on the same "
        f"{os.cpu_count()}-core machine. Latency at a steady {args.rate:,.0f} events/s for "
        f"{args.seconds:.0f} s: produce -> occurrence row visible in Postgres.\n"
    )
    print("| scenario | events/s | occurrences/s | p50 | p95 | p99 | worker peak RSS | load |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario, out in results:
        occ = (
            f"{out.occurrences_s:,.0f} ({out.occurrences}/{out.expected})"
            if out.occurrences_s is not None
            else "-"
        )
        print(
            f"| {scenario.label} | {out.events_s:,.0f} | {occ} | {ms(out.latencies, 50)} | "
            f"{ms(out.latencies, 95)} | {ms(out.latencies, 99)} | {out.rss:.0f} MiB | "
            f"{out.load} |"
        )
    for scenario, out in results:
        if out.matched:
            print(
                f"\n{scenario.label}: produce -> matched (the occurrence's `date`) p50 "
                f"{ms(out.matched, 50)}, p99 {ms(out.matched, 99)}; the rest is occurrences "
                "topic -> projector -> Postgres"
            )
    for scenario, out in results:
        if out.profile:
            print(f"\nWorker profile, {scenario.label} (cProfile, top own time):\n")
            print(out.profile)


if __name__ == "__main__":
    main()
