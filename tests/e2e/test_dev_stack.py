"""`orchestration dev`: up with one `ready:` line, down leaving nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from compose.localstack import free_port

pytestmark = pytest.mark.e2e

READY = re.compile(r"^ready: api=(http://127\.0\.0\.1:\d+) kafka=(\S+) database=(\S+)$")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie awaiting its parent's wait() is gone for every practical purpose.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_dev(
    tmp_path: Path, stack_url: str | None = None
) -> tuple[subprocess.Popen[str], re.Match[str], dict[str, int]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATION_STACK_URL"}
    if stack_url is not None:
        env["ORCHESTRATION_STACK_URL"] = stack_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "compose", "dev", "--port", str(port), "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # blocks until ready (or exit)
    match = READY.match(line)
    assert match, f"unexpected first line {line!r} (exit code {proc.poll()})"
    assert match.group(1) == f"http://127.0.0.1:{port}"
    pids = {
        k: int(v) for k, v in (row.split("=") for row in (tmp_path / "pids").read_text().split())
    }
    # The sandbox stands in for the stack only when no stack URL is given.
    expected = {"api", "worker", "kafka", "postgres"} | (
        {"sandbox"} if stack_url is None else set()
    )
    assert set(pids) == expected
    return proc, match, pids


def wait_gone(pids: dict[str, int], timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [name for name, pid in pids.items() if alive(pid)]
        if not left:
            return []
        time.sleep(0.2)
    return left


def test_dev_runs_the_whole_stack_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    proc, ready, pids = start_dev(tmp_path)
    try:
        api, kafka, database = ready.groups()
        env = dict(row.split("=", 1) for row in (tmp_path / "env").read_text().splitlines())
        assert env == {
            "ORCHESTRATION_API_URL": api,
            "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "ORCHESTRATION_DATABASE_URL": database,
            "ORCHESTRATION_TOPICS": "ledger,payments",
            "ORCHESTRATION_STACK_URL": env["ORCHESTRATION_STACK_URL"],
        }
        assert httpx.get(f"{api}/_healthcheck").json() == {"default": "OK"}
        # No ORCHESTRATION_STACK_URL was given: the env file points at the sandbox.
        sandbox = httpx.get(f"{env['ORCHESTRATION_STACK_URL']}/_info").json()
        assert sandbox["name"] == "sandbox"
        with psycopg.connect(database) as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables")}
        assert {"workflows", "triggers", "triggers_occurrences"} <= tables
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
        proc.stdout.close()  # type: ignore[union-attr]
    assert code == 0
    assert wait_gone(pids) == []
    assert not (tmp_path / "env").exists()


def test_a_killed_dev_process_takes_its_children_with_it(tmp_path: Path) -> None:
    proc, _, pids = start_dev(tmp_path)
    proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()  # type: ignore[union-attr]
    assert wait_gone(pids) == []


def test_a_given_stack_url_is_used_and_no_sandbox_started(tmp_path: Path) -> None:
    given = "http://127.0.0.1:9/stack"
    proc, _, pids = start_dev(tmp_path, stack_url=given)
    try:
        env = dict(row.split("=", 1) for row in (tmp_path / "env").read_text().splitlines())
        assert env["ORCHESTRATION_STACK_URL"] == given
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
        proc.stdout.close()  # type: ignore[union-attr]
    assert code == 0
    assert wait_gone(pids) == []
