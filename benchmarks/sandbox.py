"""Sandbox benchmark: CreateTransaction from the engine's activity client against one sandbox.

    .venv/bin/python benchmarks/sandbox.py [--requests 20000] [--concurrency 32]
        [--profile] [--profile-client]

Starts `orchestration sandbox` (the real CLI, logs to /dev/null) on a free
127.0.0.1 port and drives it with `engine.activities.HttpStack`, the client
the worker's activities use: `--requests` CreateTransaction calls, at most
`--concurrency` in flight, each with its own idempotency key, for postings
and for the overdraft Numscript template (BEHAVIOUR 6.3), amounts 2^70+3.
Prints one markdown table with requests/s, p50/p99, the CPU time each
request cost the sandbox and the client (which of the two limits the rate),
and the peak RSS (VmHWM) of both processes. `--profile` runs the sandbox
under cProfile, `--profile-client` the client side; each prints its top
functions. Client and server share the machine, so on 2 cores other load
shows up in the rates first: compare the CPU per request.

On the 2-core box, 20,000 calls, load average under 2 (README, "The
sandbox", has the table): 1,800-2,300 tx/s at concurrency 2, 2,100-2,500
at 8, 1,600-2,800 at 32; about 0.25-0.35 ms of CPU per call on each side,
so the ceiling with one core each is ~3,000/s. Before (httpx client, h11
sandbox): 830-870, 720-800 and 190-370 tx/s, client CPU 1.0 / 1.2 / 2.6-3.3
ms. Where the time goes now: client, aiohttp's request and response
machinery, the socket calls and the stdlib JSON path the 2^70 amounts
take (HttpStack's own code is under a tenth); sandbox, uvicorn's httptools
protocol, Starlette's route scan, the ledger's posting and JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from measure import peak_rss_mib, serving

from compose.localstack import free_port

ROOT = Path(__file__).resolve().parents[1]
# Before benchmarks/, whose engine.py would shadow the engine package.
sys.path.insert(0, str(ROOT))

from engine.activities import ActivityFailure, ActivitySettings, HttpStack  # noqa: E402

AMOUNT = 2**70 + 3


@contextlib.contextmanager
def sandbox_process(profile_to: Path | None) -> Iterator[tuple[str, int]]:
    port = free_port()
    if profile_to is None:
        command = [sys.executable, "-m", "compose", "sandbox", "--port", str(port)]
    else:
        command = [sys.executable, __file__, "--serve", str(port), "--profile-to", str(profile_to)]
    with serving(
        command,
        port,
        label="sandbox",
        cwd=ROOT,
        grace=30,
    ) as served:
        yield served


def serve(port: int, profile_to: Path) -> None:
    """Child process entry: the sandbox as the CLI serves it, under cProfile."""
    import uvicorn

    from compose.sandbox import SandboxSettings, create_app
    from compose.sandbox.app import UVICORN_OPTIONS

    # uvicorn re-raises the SIGTERM it handled once it has shut down; exit
    # through Python then, so the stats below are written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        uvicorn.run(
            create_app(SandboxSettings()),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            **UVICORN_OPTIONS,
        )
    finally:
        profiler.disable()
        profiler.dump_stats(profile_to)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    # CPU time per request of the sandbox process and of the client (this one).
    server_cpu_ms: float = 0.0
    client_cpu_ms: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def postings(i: int) -> dict[str, Any]:
    posting = {"source": "world", "destination": f"users:{i % 1000}", "asset": "EUR/2"}
    return {"Ledger": "main", "Data": {"postings": [{**posting, "amount": AMOUNT}]}}


def overdraft(i: int) -> dict[str, Any]:
    plain = (
        f"send [EUR/2 {AMOUNT}] (\n"
        f"  source = @users:{i % 1000} allowing unbounded overdraft\n"
        "  destination = @payouts:pending\n)"
    )
    return {"Ledger": "main", "Data": {"script": {"plain": plain}}}


def measured(
    pid: int,
    base: str,
    name: str,
    build: Any,
    requests: int,
    concurrency: int,
    profiler: cProfile.Profile | None = None,
) -> Result:
    server, client = cpu_seconds(pid), time.process_time()
    if profiler is not None:
        profiler.enable()
    try:
        result = asyncio.run(run(base, name, build, requests, concurrency))
    finally:
        if profiler is not None:
            profiler.disable()
    # The warm-up's few requests are counted too: a rounding error at 20,000.
    result.server_cpu_ms = (cpu_seconds(pid) - server) / requests * 1000
    result.client_cpu_ms = (time.process_time() - client) / requests * 1000
    return result


async def run(base: str, name: str, build: Any, requests: int, concurrency: int) -> Result:
    # Imported at the top: an import inside the measured run would count as
    # client CPU (and cProfile time) of the first table row.
    settings = ActivitySettings(stack_url=base, activity_max_concurrency=concurrency)
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def worker(stack: HttpStack) -> None:
        nonlocal errors, next_index
        while next_index < requests:
            i = next_index
            next_index += 1
            started = time.perf_counter()
            try:
                await stack.call("CreateTransaction", build(i), idempotency_key=f"{name}-{i}")
            except ActivityFailure:
                errors += 1
            latencies.append(time.perf_counter() - started)

    async with HttpStack(settings) as stack:
        # Warm-up: open every pooled connection before measuring.
        await asyncio.gather(
            *(
                stack.call("CreateTransaction", build(i), idempotency_key=f"warm-{name}-{i}")
                for i in range(concurrency * 4)
            )
        )
        started = time.perf_counter()
        await asyncio.gather(*(worker(stack) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(
        name,
        requests,
        elapsed,
        statistics.median(latencies) * 1000,
        _pct(latencies, 0.99),
        errors,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--profile", action="store_true", help="run the sandbox under cProfile")
    parser.add_argument(
        "--profile-client", action="store_true", help="run the client side under cProfile"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.profile_to)
        return

    profile = Path(tempfile.mkdtemp()) / "sandbox.prof" if args.profile else None
    client_profiler = cProfile.Profile() if args.profile_client else None
    load_before = os.getloadavg()[0]
    with sandbox_process(profile) as (base, pid):
        assert httpx.post(f"{base}/api/ledger/v2/main").status_code == 204
        results = [
            measured(pid, base, kind, build, args.requests, args.concurrency, client_profiler)
            for kind, build in (("postings", postings), ("overdraft script", overdraft))
        ]
        rss = peak_rss_mib(pid)
    client_rss = peak_rss_mib(os.getpid())

    out = io.StringIO()
    out.write(
        f"\nOne sandbox process (uvicorn), engine.activities.HttpStack on the same machine "
        f"({os.cpu_count()} CPUs), concurrency {args.concurrency}, amounts 2^70+3"
        f"{', sandbox under cProfile' if profile else ''}"
        f"{', client under cProfile' if client_profiler else ''}.\n\n"
    )
    out.write(
        "| CreateTransaction | requests | tx/s | p50 | p99 | errors "
        "| sandbox CPU/tx | client CPU/tx | sandbox tx per CPU-second |\n"
    )
    out.write("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for r in results:
        out.write(
            f"| {r.name} | {r.requests:,} | {r.rate:,.0f} | {r.p50_ms:.1f} ms | "
            f"{r.p99_ms:.1f} ms | {r.errors} | {r.server_cpu_ms:.2f} ms | "
            f"{r.client_cpu_ms:.2f} ms | {1000 / r.server_cpu_ms:,.0f} |\n"
        )
    out.write(f"\nPeak RSS: sandbox process {rss:.0f} MiB, client process {client_rss:.0f} MiB\n")
    out.write(f"Machine load average (1 min) before the run: {load_before:.2f}\n")
    print(out.getvalue())
    if profile is not None and profile.exists():
        print("Sandbox (server) profile:")
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(25)
    if client_profiler is not None:
        print("Client (HttpStack) profile:")
        pstats.Stats(client_profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
