"""REST API read benchmark: 100,000 instances, 10,000 occurrences, one API process.

    .venv/bin/python benchmarks/api.py [--rate 200] [--seconds 10] [--concurrency 16]

Uses ORCHESTRATION_DATABASE_URL when set (a server where it may create a
database), else starts a throwaway `compose.localstack.PostgresCluster`.
Bulk-loads the rows with COPY, starts the API as a uvicorn subprocess on a
free 127.0.0.1 port (JSON access logs on, to /dev/null; relay off: reads need
no Kafka), then for each endpoint:

* a fixed-rate phase (`--rate` requests/s, open loop, at most
  `--concurrency` in flight) for latency: p50 and p99;
* a closed-loop phase (`--concurrency` clients back to back) for throughput.

Prints one markdown table, with the peak RSS of the API process (VmHWM).
The load generator shares the machine with the server and Postgres, so
absolute numbers are pessimistic on small machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from measure import peak_rss_mib, serving

from compose.localstack import free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INSTANCES = 100_000
OCCURRENCES = 10_000


@contextlib.contextmanager
def database() -> Iterator[str]:
    given = os.environ.get("ORCHESTRATION_DATABASE_URL")
    if given:
        yield _new_database(given)
        return
    from compose.localstack import PostgresCluster

    with PostgresCluster() as cluster:
        yield _new_database(cluster.url)


def _new_database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url.rpartition('/')[0]}/{name}"


def load(url: str) -> tuple[list[str], str]:
    """Migrate and COPY the data set; returns (instance ids, trigger id)."""
    from engine.db import migrate

    migrate(url)
    workflow_id = str(uuid.uuid4())
    trigger_id = str(uuid.uuid4())
    config = '{"name": "bench", "stages": [{"noop": {}}, {"wait_event": {"event": "go"}}]}'
    ids = [str(uuid.uuid4()) for _ in range(INSTANCES)]
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO workflows (id, config) VALUES (%s, %s::jsonb)", (workflow_id, config)
        )
        conn.execute(
            "INSERT INTO triggers (id, workflow_id, name, event) VALUES (%s, %s, 'bench', 'E')",
            (trigger_id, workflow_id),
        )
        base = time.time() - INSTANCES
        with conn.cursor().copy(
            "COPY workflow_instances (id, workflow_id, created_at, updated_at, terminated,"
            " terminated_at, error) FROM STDIN"
        ) as copy:
            for i, ident in enumerate(ids):
                created = _ts(base + i)
                done = i % 10 != 0
                copy.write_row(
                    (
                        ident,
                        workflow_id,
                        created,
                        created,
                        done,
                        _ts(base + i + 0.5) if done else None,
                        "boom" if i % 97 == 0 else None,
                    )
                )
        with conn.cursor().copy(
            "COPY workflow_instance_stage_statuses (instance_id, stage, temporal_run_id,"
            " started_at, terminated_at) FROM STDIN"
        ) as copy:
            for i, ident in enumerate(ids):
                copy.write_row((ident, 0, "run", _ts(base + i), _ts(base + i + 0.1)))
                copy.write_row((ident, 1, "run", _ts(base + i + 0.1), None))
        event = (
            '{"idempotency_key": "", "date": "2025-03-04T10:21:59.9Z", "app": "payments",'
            ' "version": "v3", "type": "SAVED_PAYMENT", "payload": {"id": "pay_1",'
            ' "status": "SUCCEEDED", "amount": 1500}}'
        )
        with conn.cursor().copy(
            "COPY triggers_occurrences (id, trigger_id, workflow_instance_id, date, event)"
            " FROM STDIN"
        ) as copy:
            for i in range(OCCURRENCES):
                copy.write_row(
                    (str(uuid.uuid4()), trigger_id, ids[i * 10], _ts(base + i * 10), event)
                )
    # Vacuum now, not during the measurement: autovacuum would otherwise wake
    # on the fresh rows mid-run and take a core (the visibility map it sets
    # also lets deep pages scan the index only).
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return ids, trigger_id


def _ts(epoch: float) -> str:
    return (
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}+00"
    )


def serve() -> None:
    """Child process entry: the API without the outbox relay."""
    import uvicorn

    from api import ApiSettings, create_app
    from compose.logs import configure_logging

    configure_logging()
    settings = ApiSettings()
    uvicorn.run(
        create_app(settings, relay=False),
        host="127.0.0.1",
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )


@contextlib.contextmanager
def api_process(url: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "ORCHESTRATION_DATABASE_URL": url,
        "ORCHESTRATION_API_PORT": str(port),
        "ORCHESTRATION_LOG_FORMAT": "json",
        "ORCHESTRATION_MIGRATE_ON_START": "false",
    }
    with serving(
        [sys.executable, __file__, "--serve"],
        port,
        label="API",
        cwd=ROOT,
        env=env,
        grace=15,
    ) as served:
        yield served


@dataclass
class Result:
    name: str
    unloaded_ms: float
    p50_ms: float
    p99_ms: float
    achieved_rate: float
    throughput: float
    tp_p99_ms: float
    errors: int


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _get(client: httpx.AsyncClient, path: str) -> bool:
    try:
        return (await client.get(path)).status_code == 200
    except httpx.HTTPError:
        return False


async def _fixed_rate(
    client: httpx.AsyncClient, paths: list[str], rate: float, seconds: float, concurrency: int
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    gate = asyncio.Semaphore(concurrency)
    total = int(rate * seconds)

    async def one(path: str) -> None:
        nonlocal errors
        async with gate:
            started = time.perf_counter()
            ok = await _get(client, path)
            latencies.append(time.perf_counter() - started)
            errors += not ok

    tasks = []
    start = time.perf_counter()
    for i in range(total):
        # Open loop: requests leave on schedule whatever the answers do.
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(random.choice(paths))))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return latencies, errors, total / elapsed


async def _closed_loop(
    client: httpx.AsyncClient, paths: list[str], seconds: float, concurrency: int
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = await _get(client, random.choice(paths))
            latencies.append(time.perf_counter() - started)
            errors += not ok

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def measure(
    base: str, endpoints: dict[str, list[str]], rate: float, seconds: float, concurrency: int
) -> list[Result]:
    # Idle connections expire before uvicorn's 5 s keep-alive closes them, so
    # the client never reuses one the server is closing (a spurious ReadError).
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
    )
    results = []
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for name, paths in endpoints.items():
            # Warm-up with the measurement's concurrency, so every pooled
            # connection (client and server side) has prepared its statements.
            await asyncio.gather(
                *(client.get(paths[i % len(paths)]) for i in range(concurrency * 20))
            )
            unloaded = []
            for i in range(100):  # one at a time: the cost of the request itself
                started = time.perf_counter()
                await client.get(paths[i % len(paths)])
                unloaded.append(time.perf_counter() - started)
            fixed, fixed_errors, achieved = await _fixed_rate(
                client, paths, rate, seconds, concurrency
            )
            closed, closed_errors = await _closed_loop(client, paths, seconds / 2, concurrency)
            results.append(
                Result(
                    name=name,
                    unloaded_ms=statistics.median(unloaded) * 1000,
                    p50_ms=statistics.median(fixed) * 1000,
                    p99_ms=_pct(fixed, 0.99),
                    achieved_rate=achieved,
                    throughput=len(closed) / (seconds / 2),
                    tp_p99_ms=_pct(closed, 0.99),
                    errors=fixed_errors + closed_errors,
                )
            )
    return results


def deep_cursor() -> str:
    from api.pagination import PageQuery

    query = PageQuery(offset=0, page_size=15, filters={"WorkflowID": "", "Running": False})
    return query.encode(INSTANCES - 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return

    with database() as url:
        started = time.perf_counter()
        ids, trigger_id = load(url)
        loaded = time.perf_counter() - started
        endpoints = {
            "GET /v2/instances (first page)": ["/v2/instances"],
            f"GET /v2/instances (deep page, offset {INSTANCES - 15:,})": [
                f"/v2/instances?cursor={deep_cursor()}"
            ],
            "GET /v2/instances/{id}": [f"/v2/instances/{i}" for i in random.sample(ids, 2000)],
            "GET /v2/triggers/{id}/occurrences (first page)": [
                f"/v2/triggers/{trigger_id}/occurrences"
            ],
        }
        load_before = os.getloadavg()[0]
        with api_process(url) as (base, pid):
            results = asyncio.run(
                measure(base, endpoints, args.rate, args.seconds, args.concurrency)
            )
            rss = peak_rss_mib(pid)

    out = io.StringIO()
    out.write(
        f"\n{INSTANCES:,} instances (2 stage rows each), {OCCURRENCES:,} occurrences, "
        f"loaded with COPY in {loaded:.1f} s; one uvicorn process; load from httpx "
        f"on the same machine ({os.cpu_count()} CPUs).\n\n"
    )
    out.write(
        f"| endpoint | p50 alone | p50 @ {args.rate:.0f} req/s | p99 @ {args.rate:.0f} req/s | "
        f"achieved req/s | max req/s (c={args.concurrency}) | p99 at max | errors |\n"
    )
    out.write("|---|---:|---:|---:|---:|---:|---:|---:|\n")
    for r in results:
        out.write(
            f"| {r.name} | {r.unloaded_ms:.1f} ms | {r.p50_ms:.1f} ms | {r.p99_ms:.1f} ms | "
            f"{r.achieved_rate:.0f} | "
            f"{r.throughput:.0f} | {r.tp_p99_ms:.1f} ms | {r.errors} |\n"
        )
    out.write(f"\nPeak RSS of the API process: {rss:.0f} MiB\n")
    out.write(
        f"Machine load average (1 min) before the run: {load_before:.2f}; "
        "other processes on the machine skew the tails.\n"
    )
    print(out.getvalue())


if __name__ == "__main__":
    main()
