"""The sandbox as a real process (`python -m compose sandbox`), for every sandbox test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from compose.localstack import free_port
from compose.localstack._process import terminate

Start = Callable[..., str]


def spawn_sandbox(
    logs: Path, *flags: str, env: dict[str, str] | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """A sandbox process on a free port, healthy; its URL and the process to stop."""
    port = free_port()
    log_path = logs / f"sandbox-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "compose", "sandbox", "--port", str(port), *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log_path.read_text())
        try:
            if httpx.get(f"{url}/_healthcheck", timeout=1).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.1)
    terminate(proc, grace=10)
    raise AssertionError("the sandbox did not start")


@pytest.fixture
def start_sandbox(tmp_path: Path) -> Iterator[Start]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(*flags: str, env: dict[str, str] | None = None) -> str:
        url, proc = spawn_sandbox(tmp_path, *flags, env=env)
        procs.append(proc)
        return url

    yield start
    for proc in procs:
        terminate(proc, grace=10)
