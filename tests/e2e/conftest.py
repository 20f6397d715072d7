"""The production processes (`orchestration worker`, `orchestration api`) as
subprocesses against the session's real Kafka and PostgreSQL.

`run_stack` starts stacks for one test; `module_launcher` starts stacks and
sandboxes shared by every test of a module (a parametrized matrix pays the
start-up of a few seconds once, not once per case).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from compose.localstack import free_port
from compose.localstack._process import port_open, terminate
from streams import KafkaSettings, Topics
from tests.processes import process_env
from tests.sandbox.conftest import spawn_sandbox


@dataclass
class Stack:
    api_url: str
    kafka: KafkaSettings
    database_url: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def topics(self) -> Topics:
        return Topics.from_settings(self.kafka)

    @property
    def worker_url(self) -> str:
        """The first worker's probes: `/healthz`, `/readyz`, `/metrics`."""
        return f"http://127.0.0.1:{self.env['ORCHESTRATION_WORKER_METRICS_PORT']}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=10)

    def respawn(self, name: str, log: Path, *, kill: bool = True) -> None:
        """Replace process `name`: SIGKILL (or a graceful stop) then a new one on
        the same settings, logging to `log`."""
        old = self.processes[name]
        if kill:
            old.kill()
            old.wait(timeout=20)
        else:
            terminate(old, grace=20)
        self.spawn(name, log, command=name)

    def spawn(
        self, name: str, log: Path, *, command: str = "worker", **env: str
    ) -> subprocess.Popen[bytes]:
        """Start one more `orchestration <command>` as `name` on the stack's
        settings plus `env` (`ORCHESTRATION_*` names), logging to `log`. A
        second worker needs its own probe port: `worker_metrics_port=...`."""
        extra = {f"ORCHESTRATION_{key.upper()}": value for key, value in env.items()}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "compose", command],
                env={**self.env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = proc
        return proc


def _wait(ready: Callable[[], bool], procs: dict[str, subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + 90
    while not ready():
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited: {(logs / f'{name}.log').read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("stack not ready in 90 s")
        time.sleep(0.2)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_healthcheck", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Launcher:
    """Starts stacks (API and worker on a fresh database and topic prefix) and
    sandboxes, each logging under `logs`; `close()` stops them all."""

    make_database: Callable[..., str]
    make_kafka_settings: Callable[..., KafkaSettings]
    logs: Path
    stacks: list[Stack] = field(default_factory=list)
    sandboxes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stack(
        self,
        *,
        worker: bool = True,
        logs: Path | None = None,
        kafka: KafkaSettings | None = None,
        database: str | None = None,
        **extra: str,
    ) -> Stack:
        """`kafka` / `database`: another broker's settings or another server's
        database (a test's own, which it may stop) instead of the session's."""
        logs = logs or self.logs
        kafka = kafka or self.make_kafka_settings()
        database = database or self.make_database()
        api_port, metrics_port = free_port(), free_port()
        env = process_env(
            kafka,
            database,
            api_host="127.0.0.1",
            api_port=str(api_port),
            worker_metrics_port=str(metrics_port),
            log_format="json",
            **extra,
        )
        stack = Stack(f"http://127.0.0.1:{api_port}", kafka, database, env)
        names = ["api", "worker"] if worker else ["api"]
        for name in names:
            stack.spawn(name, logs / f"{name}.log", command=name)
        self.stacks.append(stack)
        _wait(
            lambda: _healthy(stack.api_url) and (not worker or port_open(metrics_port)),
            stack.processes,
            logs,
        )
        return stack

    def sandbox(self, *flags: str, env: dict[str, str] | None = None) -> str:
        url, proc = spawn_sandbox(self.logs, *flags, env=env)
        self.sandboxes.append(proc)
        return url

    def stack_on_sandbox(
        self, name: str, *, sandbox_env: dict[str, str] | None = None, **extra: str
    ) -> tuple[Stack, str]:
        """A sandbox (faulted by `sandbox_env`) and a stack whose worker calls it,
        logging under `logs/name`."""
        logs = self.logs / name
        logs.mkdir()
        url, proc = spawn_sandbox(logs, env=sandbox_env)
        self.sandboxes.append(proc)
        return self.stack(logs=logs, stack_url=url, **extra), url

    def close(self) -> None:
        for stack in self.stacks:
            for proc in stack.processes.values():
                terminate(proc, grace=20)
        for proc in self.sandboxes:
            terminate(proc, grace=10)


@pytest.fixture
def run_stack(
    make_database: Callable[..., str],
    make_kafka_settings: Callable[..., KafkaSettings],
    tmp_path: Path,
) -> Iterator[Callable[..., Stack]]:
    launcher = Launcher(make_database, make_kafka_settings, tmp_path)
    yield launcher.stack
    launcher.close()


@pytest.fixture(scope="module")
def module_launcher(
    make_database: Callable[..., str],
    make_kafka_settings: Callable[..., KafkaSettings],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Launcher]:
    launcher = Launcher(make_database, make_kafka_settings, tmp_path_factory.mktemp("stacks"))
    yield launcher
    launcher.close()
