"""Workflow instances end to end: events in through Kafka, instances run by one worker.

    python benchmarks/engine.py [--starts 20000] [--sends 2000] [--rate 100]
        [--profile [--profile-out FILE]]

Real processes on this machine: the local Kafka broker and PostgreSQL
(compose.localstack, or ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS /
ORCHESTRATION_DATABASE_URL), `orchestration sandbox`, `orchestration api`
(definitions) and one `orchestration worker`. Prints one markdown table:

- instances started/s: events matching a trigger of a 1 h `delay` workflow,
  produced as fast as possible, until every instance's first stage is
  recorded in Postgres;
- one-stage `send` instances completed/s against the sandbox (terminated in
  Postgres), with the money checked on the sandbox afterwards;
- event produced -> instance terminated, p50/p99, for sends at a steady rate,
  and the p50 of each hop on the way (from the times the records carry);
- the worker's peak RSS; with --profile, the worker's top functions (cProfile).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaProducer

# This file is named after what it measures, like the `engine` package it
# would shadow: import from the repository root, not from benchmarks/.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.matching import local_stack, pct  # noqa: E402
from benchmarks.measure import cpu_seconds, machine_busy_seconds, peak_rss_mib  # noqa: E402
from compose.localstack._process import free_port, terminate  # noqa: E402
from engine.db import migrate  # noqa: E402
from streams import codec  # noqa: E402

UPSTREAM = "5-10 triggered workflows/s made visible (0.8 with shipped defaults), no stage run"


def event(kind: str, i: int, tag: str, sent_at: float = 0.0) -> bytes:
    return codec.dumps(
        {
            "idempotency_key": f"{tag}-{kind}-{i}-{sent_at}",
            "date": "2025-03-04T09:00:01.25Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "payload": {
                "ledger": f"{tag}-{kind}",
                "transactions": [
                    {
                        "id": i,
                        "postings": [
                            {
                                "source": "world",
                                "destination": f"users:{kind}:{i}",
                                "amount": 100 + i,
                                "asset": "EUR/2",
                            }
                        ],
                        "metadata": {},
                    }
                ],
                "sentAt": sent_at,
            },
        }
    )


def wait_http(url: str, proc: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not up in {limit} s")


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def count_on(conn: psycopg.Connection[Any], sql: str, workflow_id: str) -> int:
    row = conn.execute(sql, (workflow_id,)).fetchone()
    return int(row[0]) if row else 0


class Bench:
    def __init__(
        self, bootstrap: str, database: str, workdir: Path, profile: bool, workers: int = 1
    ) -> None:
        self.workers = workers
        self.tag = uuid.uuid4().hex[:8]
        self.bootstrap, self.database, self.workdir = bootstrap, database, workdir
        self.topic = f"bench{self.tag}.ledger"
        self.api_url = f"http://127.0.0.1:{free_port()}"
        self.sandbox_url = f"http://127.0.0.1:{free_port()}"
        self.profile_path = workdir / "worker.prof" if profile else None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {
            **os.environ,
            "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ORCHESTRATION_TOPICS": self.topic,
            "ORCHESTRATION_TOPIC_PREFIX": f"bench{self.tag}.",
            "ORCHESTRATION_CONSUMER_GROUP": f"bench-{self.tag}",
            "ORCHESTRATION_PARTITIONS": "4",
            "ORCHESTRATION_DATABASE_URL": database,
            "ORCHESTRATION_STACK_URL": self.sandbox_url,
            "ORCHESTRATION_API_HOST": "127.0.0.1",
            "ORCHESTRATION_API_PORT": self.api_url.rsplit(":", 1)[1],
            "ORCHESTRATION_WORKER_METRICS_PORT": str(free_port()),
            "ORCHESTRATION_LOG_LEVEL": "warning",
        }

    def start(self) -> None:
        migrate(self.database)
        py = sys.executable
        port = self.sandbox_url.rsplit(":", 1)[1]
        self.procs["sandbox"] = spawn(
            [py, "-m", "compose", "sandbox", "--port", port], self.env, self.workdir / "sb.log"
        )
        wait_http(f"{self.sandbox_url}/_healthcheck", self.procs["sandbox"])
        assert httpx.post(f"{self.sandbox_url}/api/ledger/v2/main").status_code == 204
        self.procs["api"] = spawn([py, "-m", "compose", "api"], self.env, self.workdir / "api.log")
        wait_http(f"{self.api_url}/_healthcheck", self.procs["api"])
        worker = [py, "-m", "compose", "worker"]
        if self.profile_path is not None:
            worker = [py, "-m", "cProfile", "-o", str(self.profile_path), "-m", "compose", "worker"]
        self.procs["worker"] = spawn(worker, self.env, self.workdir / "worker.log")
        # More workers join the same consumer groups (the production scaling
        # model): each owns a share of the partitions of every loop.
        for n in range(2, self.workers + 1):
            env = {**self.env, "ORCHESTRATION_WORKER_METRICS_PORT": str(free_port())}
            cmd = [py, "-m", "compose", "worker"]
            self.procs[f"worker-{n}"] = spawn(cmd, env, self.workdir / f"worker-{n}.log")

    def restart_worker_and_time_restore(self, live: int, limit: float = 1800) -> float:
        """SIGKILL the worker, start another, and return the seconds until its
        `instances.restored` lines account for `live` instances."""
        old = self.procs["worker"]
        old.kill()
        old.wait()
        log = self.workdir / "worker-2.log"
        env = {**self.env, "ORCHESTRATION_LOG_LEVEL": "info", "ORCHESTRATION_LOG_FORMAT": "json"}
        started = time.perf_counter()
        self.procs["worker"] = spawn([sys.executable, "-m", "compose", "worker"], env, log)
        while time.perf_counter() - started < limit:
            restored = 0
            for line in log.read_text().splitlines():
                if '"instances.restored"' in line:
                    restored += int(codec.loads(line).get("instances", 0))
            if restored >= live:
                return time.perf_counter() - started
            time.sleep(0.2)
        raise SystemExit(f"restore of {live} instances not done in {limit} s: see {log}")

    def worker_cpu(self) -> float:
        """CPU seconds all worker processes have used so far."""
        workers = [p for name, p in self.procs.items() if name.startswith("worker")]
        return sum(cpu_seconds(p.pid) for p in workers)

    def stop(self) -> float:
        """Stop everything; the highest worker peak RSS."""
        workers = [name for name in self.procs if name.startswith("worker")]
        rss = max(peak_rss_mib(self.procs[name].pid) for name in workers)
        for name in [*workers, "api", "sandbox"]:
            terminate(self.procs.get(name), grace=30)
        return rss

    def define(self, kind: str, stages: list[dict[str, Any]]) -> str:
        with httpx.Client(base_url=self.api_url, timeout=10) as http:
            workflow = http.post("/v2/workflows", json={"name": kind, "stages": stages})
            workflow.raise_for_status()
            workflow_id: str = workflow.json()["data"]["id"]
            trigger = http.post(
                "/v2/triggers",
                json={
                    "event": "COMMITTED_TRANSACTIONS",
                    "workflowID": workflow_id,
                    "filter": f'event.ledger == "{self.tag}-{kind}"',
                    "vars": {
                        "dst": "event.transactions[0].postings[0].destination",
                        "amount": "event.transactions[0].postings[0].amount",
                    },
                },
            )
            trigger.raise_for_status()
        return workflow_id

    async def produce(self, values: list[bytes]) -> float:
        """Send `values` as fast as the producer takes them; the start time."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        started = time.perf_counter()
        try:
            for value in values:
                await producer.send(self.topic, value)
            await producer.flush()
        finally:
            await producer.stop()
        return started

    async def produce_paced(self, kind: str, count: int, rate: float) -> None:
        """`count` events at `rate`/s, each stamped with its send time."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        started = time.perf_counter()
        try:
            for n in range(count):
                await producer.send(self.topic, event(kind, n, self.tag, sent_at=time.time()))
                await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.perf_counter()))
            await producer.flush()
        finally:
            await producer.stop()

    def count(self, sql: str, workflow_id: str) -> int:
        with psycopg.connect(self.database, autocommit=True) as conn:
            return count_on(conn, sql, workflow_id)

    async def until(self, sql: str, workflow_id: str, expected: int, limit: float = 900) -> float:
        deadline = time.perf_counter() + limit
        # One connection for the whole wait: each new one forks a Postgres backend.
        with psycopg.connect(self.database, autocommit=True) as conn:
            while True:
                found = count_on(conn, sql, workflow_id)
                if found >= expected:
                    return time.perf_counter()
                if time.perf_counter() > deadline:
                    raise SystemExit(f"only {found}/{expected} after {limit} s")
                # 50 ms: at 2,000+ starts/s a 0.2 s poll was a tenth of a 5,000 burst.
                await asyncio.sleep(0.05)

    async def warm(self, kind: str, workflow_id: str) -> None:
        # The trigger reaches the worker through the definitions topic: publish
        # probes until one starts an instance (they are counted, and excluded).
        for n in range(60):
            await self.produce([event(kind, 10_000_000 + n, self.tag)])
            await asyncio.sleep(1)
            if self.count(STARTED, workflow_id):
                return
        raise SystemExit(f"the {kind} trigger never fired: see {self.workdir}/worker.log")


STARTED = (
    "SELECT count(*) FROM workflow_instance_stage_statuses s JOIN workflow_instances i"
    " ON i.id = s.instance_id WHERE i.workflow_id = %s AND s.stage = 0"
)
TERMINATED = "SELECT count(*) FROM workflow_instances WHERE workflow_id = %s AND terminated"
LATENCIES = (
    "SELECT extract(epoch FROM i.terminated_at) - (o.event->'payload'->>'sentAt')::float8"
    " FROM workflow_instances i JOIN triggers_occurrences o ON o.workflow_instance_id = i.id"
    " WHERE i.workflow_id = %s AND i.terminated AND (o.event->'payload'->>'sentAt')::float8 > 0"
)
# Where the latency goes, per paced instance: the times each hop recorded
# (the send time, the occurrence's date, stage 0 started, its activity
# started and answered, the instance terminated), as epoch seconds.
HOPS = (
    "SELECT (o.event->'payload'->>'sentAt')::float8, extract(epoch FROM o.date),"
    " extract(epoch FROM s.started_at), extract(epoch FROM a.started_at),"
    " extract(epoch FROM a.terminated_at), extract(epoch FROM i.terminated_at)"
    " FROM workflow_instances i JOIN triggers_occurrences o ON o.workflow_instance_id = i.id"
    " JOIN workflow_instance_stage_statuses s ON s.instance_id = i.id AND s.stage = 0"
    " JOIN workflow_stage_history a ON a.instance_id = i.id AND a.stage = 0 AND a.position = 0"
    " WHERE i.workflow_id = %s AND i.terminated AND (o.event->'payload'->>'sentAt')::float8 > 0"
)
HOP_NAMES = ("matched", "started", "called", "answered", "terminated")
SEND = {
    "send": {
        "source": {"account": {"id": "world", "ledger": "main"}},
        "destination": {"account": {"id": "${dst}", "ledger": "main"}},
        "amount": {"amount": "${amount}", "asset": "EUR/2"},
    }
}


async def run(args: argparse.Namespace, bench: Bench) -> dict[str, Any]:
    delay_wf = bench.define("delay", [{"delay": {"duration": "1h"}}])
    send_wf = bench.define("send", [SEND])
    paced_wf = bench.define("paced", [SEND])
    for kind, wf in (("delay", delay_wf), ("send", send_wf), ("paced", paced_wf)):
        await bench.warm(kind, wf)
    base = {wf: bench.count(STARTED, wf) for wf in (delay_wf, send_wf, paced_wf)}
    warmed = base[send_wf] + base[paced_wf]  # warm-up probes that moved money too
    print("definitions live; measuring", file=sys.stderr)

    values = [event("delay", i, bench.tag) for i in range(args.starts)]
    cpu0, busy0 = bench.worker_cpu(), machine_busy_seconds()
    t0 = await bench.produce(values)
    t1 = await bench.until(STARTED, delay_wf, base[delay_wf] + args.starts)
    starts_s = args.starts / (t1 - t0)
    # Less noisy than the rate on a shared box: what one start costs the
    # workers, and the whole machine (broker, Postgres and this script too).
    start_cpu_us = (bench.worker_cpu() - cpu0) / args.starts * 1e6
    machine_us = (machine_busy_seconds() - busy0) / args.starts * 1e6
    print(
        f"starts: {starts_s:,.0f}/s, {start_cpu_us:,.0f} us of worker CPU each,"
        f" {machine_us:,.0f} us of the machine's",
        file=sys.stderr,
    )

    values = [event("send", i, bench.tag) for i in range(args.sends)]
    t0 = await bench.produce(values)
    t1 = await bench.until(TERMINATED, send_wf, base[send_wf] + args.sends)
    sends_s = args.sends / (t1 - t0)
    print(f"sends: {sends_s:,.0f}/s", file=sys.stderr)

    paced = int(args.rate * args.seconds)
    await bench.produce_paced("paced", paced, args.rate)
    await bench.until(TERMINATED, paced_wf, base[paced_wf] + paced)
    with psycopg.connect(bench.database, autocommit=True) as conn:
        latencies = [r[0] * 1000 for r in conn.execute(LATENCIES, (paced_wf,)).fetchall()]
        times = conn.execute(HOPS, (paced_wf,)).fetchall()
    # p50 of each hop: from the previous recorded time to this one.
    hops = {
        name: pct([(float(t[n + 1]) - float(t[n])) * 1000 for t in times], 50)
        for n, name in enumerate(HOP_NAMES)
    }

    recovery = None
    if args.recovery:
        # Top the live `delay` instances up to --recovery, then SIGKILL the
        # worker and time its successor's restore of all of them.
        live = base[delay_wf] + args.starts
        extra = max(0, args.recovery - live)
        for first in range(0, extra, 20_000):
            chunk = range(args.starts + first, args.starts + min(first + 20_000, extra))
            await bench.produce([event("delay", i, bench.tag) for i in chunk])
        live += extra
        await bench.until(STARTED, delay_wf, live, limit=1800)
        recovery = (live, bench.restart_worker_and_time_restore(live))
        print(f"recovery: {recovery[0]} live instances in {recovery[1]:.1f} s", file=sys.stderr)

    return {
        "recovery": recovery,
        "starts_s": starts_s,
        "start_cpu_us": start_cpu_us,
        "machine_us": machine_us,
        "sends_s": sends_s,
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "latency_n": len(latencies),
        "hops": hops,
        "expected_transactions": args.sends + paced + warmed,
    }


def sandbox_money(url: str, sends: int) -> tuple[int, bool]:
    """How many transactions the sandbox holds, and whether the last bulk send's
    account holds exactly what its event asked for (100 + i, once)."""
    address = f"users:send:{sends - 1}"
    account = httpx.get(f"{url}/api/ledger/v2/main/accounts/{address}?expand=volumes")
    balance = codec.loads(account.content)["data"]["volumes"]["EUR/2"]["balance"]
    transactions, cursor = 0, None
    while True:
        query = "?pageSize=1000" + (f"&cursor={cursor}" if cursor else "")
        page = httpx.get(f"{url}/api/ledger/v2/main/transactions{query}").json()["cursor"]
        transactions += len(page["data"])
        cursor = page.get("next")
        if not page["hasMore"]:
            return transactions, balance == 100 + sends - 1


def profile_summary(path: Path, top: int = 18) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    # 20,000: a burst of ~8 s, so the first fetch and the poll are noise; a
    # 5,000 burst lasts ~2 s (README gives both).
    parser.add_argument("--starts", type=int, default=20_000)
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--profile-out", type=Path, help="with --profile: also keep the cProfile file here"
    )
    parser.add_argument(
        "--recovery", type=int, default=0, help="live instances to restore after a SIGKILL"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes in the one consumer group"
    )
    args = parser.parse_args()
    if args.recovery and args.workers != 1:
        parser.error("--recovery times one worker's restore: use it with --workers 1")
    with (
        tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp,
        local_stack() as (bootstrap, database),
    ):
        bench = Bench(bootstrap, database, Path(tmp), args.profile, args.workers)
        bench.start()
        try:
            result = asyncio.run(run(args, bench))
            transactions, balance_ok = sandbox_money(bench.sandbox_url, args.sends)
        finally:
            rss = bench.stop()
        profile = profile_summary(bench.profile_path) if bench.profile_path else ""
        if bench.profile_path and args.profile_out:
            shutil.copyfile(bench.profile_path, args.profile_out)

    workers = "One worker process" if args.workers == 1 else f"{args.workers} worker processes"
    print(f"\n{workers}; broker, PostgreSQL, sandbox and API on the same 2-core machine\n")
    print("| measure | result | target | notes |")
    print("|---|---|---|---|")
    print(
        f"| instances started/s (`delay` 1 h) | {result['starts_s']:,.0f} | >= 2,000 | "
        f"{args.starts} events produced at once -> first stage recorded in Postgres |"
    )
    print(
        f"| worker CPU per start | {result['start_cpu_us']:,.0f} µs | - | "
        "user + system CPU of the worker processes over that burst / starts |"
    )
    cores = os.cpu_count() or 1
    print(
        f"| machine CPU per start | {result['machine_us']:,.0f} µs | "
        f"<= {cores / 2000 * 1e6:,.0f} µs | every busy core over that burst / starts "
        f"(broker, Postgres, producer included): {cores} cores make 2,000/s at most this |"
    )
    print(
        f"| one-stage `send` completed/s | {result['sends_s']:,.0f} | >= 300 | "
        f"{args.sends} events -> CreateTransaction on the sandbox -> terminated in Postgres |"
    )
    print(
        f"| event -> instance terminated at {args.rate:.0f}/s, p50 | {result['p50']:.0f} ms | - | "
        f"{result['latency_n']} `send` instances |"
    )
    print(
        f"| event -> instance terminated at {args.rate:.0f}/s, p99 | {result['p99']:.0f} ms | "
        "<= 1,000 ms | |"
    )
    hops = ", ".join(f"{name} +{ms:.0f}" for name, ms in result["hops"].items())
    print(
        f"| where that latency goes, p50 per hop (ms) | {hops} | - | produced -> occurrence "
        "date -> stage started -> activity called -> answered -> instance terminated |"
    )
    print(f"| worker peak RSS | {rss:.0f} MiB | - | VmHWM (the highest, with --workers) |")
    if result["recovery"]:
        live, seconds = result["recovery"]
        print(
            f"| recovery after SIGKILL, {live:,} live instances | {seconds:.1f} s | - | "
            "new worker start -> every instance restored and re-armed |"
        )
    print(
        f"| sandbox transactions | {transactions} | "
        f"{result['expected_transactions']} | one per send instance, none twice; "
        f"balance check {'ok' if balance_ok else 'WRONG'} |"
    )
    print(f"\nUpstream Flows on a Temporal dev server, same box: {UPSTREAM}.")
    if profile:
        print("\nWorker profile (cProfile, top functions by own time):\n")
        print(profile)


if __name__ == "__main__":
    main()
