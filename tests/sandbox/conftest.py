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


@pytest.fixture
def start_sandbox(tmp_path: Path) -> Iterator[Start]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(*flags: str, env: dict[str, str] | None = None) -> str:
        port = free_port()
        with (tmp_path / f"sandbox-{port}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "compose", "sandbox", "--port", str(port), *flags],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / f"sandbox-{port}.log").read_text()
            try:
                if httpx.get(f"{url}/_healthcheck", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the sandbox did not start")

    yield start
    for proc in procs:
        terminate(proc, grace=10)
