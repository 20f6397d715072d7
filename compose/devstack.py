"""`orchestration dev`: the whole local stack in the foreground.

PostgreSQL and Kafka run from installed binaries (no Docker); the worker and
the API run as child processes of this one, exactly as in production but on
loopback. Without ``ORCHESTRATION_STACK_URL`` the in-memory stack sandbox
(``compose.sandbox``) runs as one more child and the worker calls it. Every
child dies with this process, and a clean stop takes them down in reverse order.

Once the stack is up, a worker that dies (an exit, a SIGKILL, the OOM killer)
is started again after a back-off (`compose.restarts`), with one
`dev.worker_restarted` log line and its new pid in the pids file: a worker's
state lives in Kafka and PostgreSQL, so a restart loses nothing. The API or
the sandbox dying ends the whole stack instead (their state is in memory, or
their failure is a bug to see, not to paper over). The production commands
never restart themselves: that is their supervisor's job.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog

from compose.kafka_ready import wait_for_kafka
from compose.localstack import KafkaBroker, PostgresCluster, free_port
from compose.localstack._process import (
    LocalStackError,
    port_open,
    spawn_inherit,
    terminate,
)
from compose.restarts import RestartBackoff, describe_exit
from engine.db import migrate
from streams import KafkaSettings

log = structlog.get_logger(__name__)


@dataclass
class DevStack:
    state_dir: Path
    api_port: int = 8080
    topics: str = "ledger payments"
    kafka: KafkaBroker | None = None
    postgres: PostgresCluster | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # The Formance stack the worker calls: the environment's, else a sandbox child's.
    stack_url: str | None = field(default_factory=lambda: os.environ.get("ORCHESTRATION_STACK_URL"))
    # Keep Kafka's and PostgreSQL's data in the state dir across runs (else
    # temp dirs, removed on stop: every run starts empty).
    keep: bool = False
    # The worker's /healthz, /readyz and /metrics: always served in dev, on the
    # port ORCHESTRATION_WORKER_METRICS_PORT gives, else a free one.
    metrics_port: int = field(
        default_factory=lambda: int(os.environ.get("ORCHESTRATION_WORKER_METRICS_PORT") or 0)
    )
    backoff: RestartBackoff = field(default_factory=RestartBackoff)
    # How to start the worker again, when it was last started, and a pending restart.
    _worker_argv: list[str] = field(default_factory=list)
    _worker_env: dict[str, str] = field(default_factory=dict)
    _worker_started_at: float = 0.0
    _restart: dict[str, object] | None = None  # what the restart line will say, and when
    _restart_at: float = 0.0

    def env(self) -> dict[str, str]:
        assert self.kafka is not None
        assert self.postgres is not None
        return {
            "ORCHESTRATION_API_URL": f"http://127.0.0.1:{self.api_port}",
            "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "ORCHESTRATION_DATABASE_URL": self.postgres.url,
            "ORCHESTRATION_TOPICS": ",".join(self.topics.replace(",", " ").split()),
            "ORCHESTRATION_WORKER_METRICS_PORT": str(self.metrics_port),
            **({"ORCHESTRATION_STACK_URL": self.stack_url} if self.stack_url else {}),
        }

    def pids(self) -> dict[str, int]:
        out = {name: proc.pid for name, proc in self.children.items()}
        if self.kafka is not None and self.kafka.pid:
            out["kafka"] = self.kafka.pid
        if self.postgres is not None and self.postgres.pid:
            out["postgres"] = self.postgres.pid
        return out

    def start(self, *, timeout: float = 120) -> None:
        if port_open(self.api_port):
            raise LocalStackError(f"port {self.api_port} is already in use (try --port)")
        if not self.metrics_port:
            self.metrics_port = free_port()
        elif port_open(self.metrics_port):
            raise LocalStackError(
                f"port {self.metrics_port} (ORCHESTRATION_WORKER_METRICS_PORT) is already in use"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        kept = self.state_dir.resolve() if self.keep else None
        self.postgres = PostgresCluster(kept / "postgres" if kept else None)
        self.postgres.start()
        self.kafka = KafkaBroker(kept / "kafka" if kept else None)
        self.kafka.start()
        migrate(self.postgres.url)
        kafka = KafkaSettings(
            kafka_bootstrap_servers=self.kafka.bootstrap_servers,
            topics=self.topics.replace(",", " ").split(),
        )
        asyncio.run(wait_for_kafka(kafka))  # the worker starts into a settled broker
        env = {
            **os.environ,
            **self.env(),
            "ORCHESTRATION_API_HOST": "127.0.0.1",
            "ORCHESTRATION_API_PORT": str(self.api_port),
            "ORCHESTRATION_MIGRATE_ON_START": "false",
        }
        worker_env = dict(env)
        cli = [sys.executable, "-m", "compose"]
        checks = [lambda: port_open(self.metrics_port), self._api_healthy]
        if not self.stack_url:
            sandbox_port = free_port()
            self.stack_url = f"http://127.0.0.1:{sandbox_port}"
            self.children["sandbox"] = spawn_inherit(
                [*cli, "sandbox", "--port", str(sandbox_port)],
                env={**env, "ORCHESTRATION_SANDBOX_KAFKA_BOOTSTRAP": self.kafka.bootstrap_servers},
            )
            env["ORCHESTRATION_STACK_URL"] = worker_env["ORCHESTRATION_STACK_URL"] = self.stack_url
            checks.append(lambda: self._healthy(f"{self.stack_url}/_healthcheck"))
        self.run_worker([*cli, "worker"], worker_env)
        self.children["api"] = spawn_inherit([*cli, "api"], env=env)
        deadline = time.monotonic() + timeout
        while not all(check() for check in checks):
            for name, proc in self.children.items():
                if proc.poll() is not None:
                    raise LocalStackError(f"the {name} exited ({describe_exit(proc.returncode)})")
            if time.monotonic() > deadline:
                raise LocalStackError("the worker or the API did not become ready in time")
            time.sleep(0.2)
        env_file = self.state_dir / "env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env().items()))
        self._write_pids()

    def run_worker(self, argv: list[str], env: dict[str, str], *, now: float | None = None) -> None:
        """Start the worker child; `watch` starts the same command again when it dies."""
        self._worker_argv, self._worker_env = argv, env
        self.children["worker"] = spawn_inherit(argv, env=env)
        self._worker_started_at = time.monotonic() if now is None else now

    def _write_pids(self) -> None:
        # Written whole then renamed: a reader never sees half a file.
        pids = self.state_dir / "pids"
        partial = pids.with_name("pids.partial")
        partial.write_text("".join(f"{k}={v}\n" for k, v in self.pids().items()))
        partial.replace(pids)

    def watch(self, *, now: float | None = None) -> None:
        """One supervision step of a running stack: restart a dead worker when
        its back-off is over; raise if any other child died. (`now`: the
        monotonic clock, given by tests.)"""
        now = time.monotonic() if now is None else now
        for name, proc in self.children.items():
            code = proc.poll()
            if code is None:
                continue
            if name != "worker":
                raise LocalStackError(
                    f"the {name} exited ({describe_exit(code)}); only the worker is "
                    "restarted in dev, so the dev stack stops"
                )
            if self._restart is None:
                uptime = now - self._worker_started_at
                delay = self.backoff.delay(uptime)
                self._restart_at = now + delay
                self._restart = {
                    "old_pid": proc.pid,
                    "exit": describe_exit(code),
                    "uptime_s": round(uptime, 1),
                    "backoff_s": delay,
                }
        if self._restart is not None and now >= self._restart_at:
            said, self._restart = self._restart, None
            self.run_worker(self._worker_argv, self._worker_env, now=now)
            self._write_pids()
            log.warning("dev.worker_restarted", **said, new_pid=self.children["worker"].pid)

    def _api_healthy(self) -> bool:
        return self._healthy(f"http://127.0.0.1:{self.api_port}/_healthcheck")

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            response = httpx.get(url, timeout=1)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def stop(self) -> None:
        for name in ("api", "worker", "sandbox"):
            terminate(self.children.pop(name, None), grace=20)
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()
        for stale in ("env", "pids"):
            (self.state_dir / stale).unlink(missing_ok=True)
