"""Throughput of trigger filters and vars on one core.

Run: ``python benchmarks/expr.py`` (prints a markdown table).

The payload is the ledger v2 ``COMMITTED_TRANSACTIONS`` example of
BEHAVIOUR.md 13.2, decoded once with ``decode_event`` as the matcher does.
Each row is the best of several timed rounds, so a noisy neighbour lowers
the spread, not the figure.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from triggers import expr

PAYLOAD = b"""{
  "ledger": "main",
  "transactions": [{
    "id": 57,
    "postings": [{"source": "world", "destination": "users:042", "amount": 1500, "asset": "EUR/2"}],
    "metadata": {"order": "A-17", "kind": "payout"},
    "timestamp": "2025-03-04T09:00:01.2Z",
    "reference": "order-A-17",
    "insertedAt": "2025-03-04T09:00:01.21Z",
    "updatedAt": "2025-03-04T09:00:01.21Z",
    "reverted": false,
    "postCommitVolumes": {"world": {"EUR/2": {"input": 0, "output": 1500, "balance": -1500}},
                          "users:042": {"EUR/2": {"input": 1500, "output": 0, "balance": 1500}}},
    "preCommitVolumes": {"world": {"EUR/2": {"input": 0, "output": 0, "balance": 0}},
                         "users:042": {"EUR/2": {"input": 0, "output": 0, "balance": 0}}}
  }],
  "accountMetadata": {}
}"""

FILTERS = [
    'event.ledger == "main"',
    'event.transactions[0].metadata.kind == "payout"'
    " && event.transactions[0].postings[0].amount > 1000",
    'any(event.transactions[0].postings, {.destination startsWith "users:"})',
    'event.ledger == "main" && event.transactions[0].metadata.order != nil',
]
VARS = ["event.transactions[0].id", 'event.transactions[0].metadata.order ?? "none"']


def best_rate(fn: Callable[[], Any], seconds: float = 0.4, rounds: int = 5) -> float:
    """Calls per second of ``fn``, best of ``rounds`` timed loops."""
    n = 1000
    while True:  # size the loop so one round lasts about `seconds`
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 4:
            break
        n *= 4
    n = max(int(n * seconds / elapsed), 1)
    best = 0.0
    for _ in range(rounds):
        gc.disable()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        gc.enable()
        best = max(best, n / elapsed)
    return best


def compile_us(source: str) -> float:
    rate = best_rate(lambda: expr.compile(source), seconds=0.2, rounds=3)
    return 1e6 / rate


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n", 1)[0]).parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    event = expr.decode_event(PAYLOAD)
    env = {"event": event}

    rows: list[tuple[str, str, float, float]] = []
    for source in FILTERS:
        prog = expr.compile(source)
        assert prog.run(env) is True, source

        def check(p: expr.Program = prog) -> Any:
            return p.run(env)

        rows.append(("filter", source, compile_us(source), best_rate(check)))
    for source in VARS:
        prog = expr.compile(source)

        def var(p: expr.Program = prog, fmt: Callable[[Any], str] = expr.format_var) -> str:
            return fmt(p.run(env))

        rows.append(("var + format_var", source, compile_us(source), best_rate(var)))
    decode_rate = best_rate(lambda: expr.decode_event(PAYLOAD))

    tracemalloc.start()
    programs = [expr.compile(s) for s in FILTERS + VARS for _ in range(100)]
    for p in programs:
        p.run(env)
    _, peak_compile = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"Python {sys.version.split()[0]}, one core, payload {len(PAYLOAD)} bytes\n")
    print("| kind | expression | compile (µs) | evaluations/s |")
    print("|---|---|---:|---:|")
    for kind, source, c_us, rate in rows:
        print(f"| {kind} | `{source}` | {c_us:.1f} | {rate:,.0f} |")
    print(f"| decode | `decode_event(payload)` | - | {decode_rate:,.0f} |")
    print()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"tracemalloc peak while compiling and running {len(programs)} programs: "
        f"{peak_compile / 1024:.0f} KiB ({peak_compile / len(programs) / 1024:.1f} KiB each)"
    )
    print(f"peak RSS of the process: {peak_rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
