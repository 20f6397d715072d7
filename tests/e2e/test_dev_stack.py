"""`orchestration dev`: up with one `ready:` line, down leaving nothing behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from compose.localstack import free_port
from streams import codec

pytestmark = pytest.mark.e2e

READY = re.compile(
    r"^ready: api=(http://127\.0\.0\.1:\d+) worker=(http://127\.0\.0\.1:(\d+)) "
    r"kafka=(\S+) database=(\S+)$"
)


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


def read_pids(state_dir: Path) -> dict[str, int]:
    return {
        k: int(v) for k, v in (row.split("=") for row in (state_dir / "pids").read_text().split())
    }


def read_env(state_dir: Path) -> dict[str, str]:
    return dict(row.split("=", 1) for row in (state_dir / "env").read_text().splitlines())


def start_dev(
    tmp_path: Path,
    stack_url: str | None = None,
    *,
    log: Path | None = None,
    args: tuple[str, ...] = (),
) -> tuple[subprocess.Popen[str], re.Match[str], dict[str, int]]:
    """`orchestration dev ARGS` with its state in `tmp_path`; its stderr (the logs) to `log`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATION_STACK_URL"}
    if stack_url is not None:
        env["ORCHESTRATION_STACK_URL"] = stack_url
    with log.open("wb") if log is not None else open(os.devnull, "wb") as stderr:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "compose", "dev"),
                *("--port", str(port), "--state-dir", str(tmp_path)),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # blocks until ready (or exit)
    match = READY.match(line)
    assert match, f"unexpected first line {line!r} (exit code {proc.poll()})"
    assert match.group(1) == f"http://127.0.0.1:{port}"
    pids = read_pids(tmp_path)
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
        api, worker, metrics_port, kafka, database = ready.groups()
        env = dict(row.split("=", 1) for row in (tmp_path / "env").read_text().splitlines())
        assert env == {
            "ORCHESTRATION_API_URL": api,
            "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "ORCHESTRATION_DATABASE_URL": database,
            "ORCHESTRATION_TOPICS": "ledger,payments",
            "ORCHESTRATION_WORKER_METRICS_PORT": metrics_port,
            "ORCHESTRATION_STACK_URL": env["ORCHESTRATION_STACK_URL"],
        }
        assert httpx.get(f"{api}/_healthcheck").json() == {"default": "OK"}
        assert httpx.get(f"{worker}/healthz").json() == {"status": "ok"}
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


def stop_dev(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=90)
    proc.stdout.close()  # type: ignore[union-attr]
    return code


def committed_transaction(tx_id: int) -> dict[str, Any]:
    posting = {"source": "world", "destination": "users:042", "amount": 1500, "asset": "EUR/2"}
    return {
        "date": "2025-03-04T09:00:01Z",
        "app": "ledger",
        "version": "v2",
        "type": "COMMITTED_TRANSACTIONS",
        "payload": {
            "ledger": "main",
            "transactions": [{"id": tx_id, "postings": [posting], "metadata": {}}],
        },
    }


def create_workflow_and_trigger(http: httpx.Client) -> tuple[str, str]:
    workflow = http.post(
        "/v2/workflows", json={"name": "demo", "stages": [{"wait_event": {"event": "go"}}]}
    )
    assert workflow.status_code == 201, workflow.text
    workflow_id: str = workflow.json()["data"]["id"]
    trigger = http.post(
        "/v2/triggers",
        json={
            "name": "main ledger",
            "event": "COMMITTED_TRANSACTIONS",
            "version": "v2",
            "workflowID": workflow_id,
            "filter": 'event.ledger == "main"',
        },
    )
    assert trigger.status_code == 201, trigger.text
    trigger_id: str = trigger.json()["data"]["id"]
    return workflow_id, trigger_id


def publish(
    env: dict[str, str], topic: str, event: dict[str, Any], cwd: Path | None = None
) -> None:
    """`orchestration publish`, the way a person would run it."""
    done = subprocess.run(
        [sys.executable, "-m", "compose", "publish", "--topic", topic, "-"],
        input=codec.dumps(event).decode(),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "published 1 event(s)" in done.stdout


def wait_for(fetch: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_a_killed_worker_is_restarted_and_the_stack_still_matches(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "dev.log"
    proc, ready, pids = start_dev(state, log=log)
    restarted: dict[str, int] = {}
    try:
        api = ready.group(1)
        with httpx.Client(base_url=api, timeout=10) as http:
            _, trigger_id = create_workflow_and_trigger(http)
            os.kill(pids["worker"], signal.SIGKILL)

            def new_worker() -> dict[str, int]:
                now = read_pids(state)
                changed = now["worker"] != pids["worker"] and alive(now["worker"])
                return now if changed else {}

            restarted = wait_for(new_worker, timeout=60)
            assert restarted, f"no new worker pid; dev log:\n{log.read_text()[-3000:]}"
            assert proc.poll() is None, "the dev stack must survive a dead worker"
            # Only the worker changed; the API never noticed.
            assert {k: v for k, v in restarted.items() if k != "worker"} == {
                k: v for k, v in pids.items() if k != "worker"
            }
            publish({**os.environ, **read_env(state)}, "ledger", committed_transaction(57))

            def occurrences() -> list[dict[str, Any]]:
                response = http.get(f"/v2/triggers/{trigger_id}/occurrences")
                assert response.status_code == 200, response.text
                data: list[dict[str, Any]] = response.json()["cursor"]["data"]
                return data

            found = wait_for(occurrences)
            assert len(found) == 1, f"dev log:\n{log.read_text()[-3000:]}"
    finally:
        code = stop_dev(proc)
    assert code == 0
    lines = [line for line in log.read_text().splitlines() if "dev.worker_restarted" in line]
    assert len(lines) == 1, lines
    assert f"old_pid={pids['worker']}" in lines[0]
    assert f"new_pid={restarted['worker']}" in lines[0]
    assert "signal SIGKILL" in lines[0]
    assert wait_gone({**pids, **restarted}) == []


def workflow_names(http: httpx.Client) -> list[str]:
    response = http.get("/v2/workflows", params={"pageSize": 100})
    assert response.status_code == 200, response.text
    return [w["config"]["name"] for w in response.json()["cursor"]["data"]]


def test_keep_finds_the_last_runs_workflows_and_the_default_starts_empty() -> None:
    # Not pytest's tmp_path: PostgreSQL runs as another user when we are root,
    # and that user cannot enter pytest's private (0700) directories.
    state = Path(tempfile.mkdtemp(prefix="orchestration-dev-keep-"))
    state.chmod(0o755)
    try:
        proc, ready, _ = start_dev(state, args=("--keep",))
        try:
            with httpx.Client(base_url=ready.group(1), timeout=10) as http:
                _, trigger_id = create_workflow_and_trigger(http)
        finally:
            assert stop_dev(proc) == 0
        assert (state / "postgres" / "data" / "PG_VERSION").exists()
        assert (state / "kafka" / "data" / "meta.properties").exists()

        proc, ready, _ = start_dev(state, args=("--keep",))
        try:
            with httpx.Client(base_url=ready.group(1), timeout=10) as http:
                assert workflow_names(http) == ["demo"]
                # Kafka kept its topics too: the new worker loaded the trigger
                # from the definitions topic and matches with it.
                publish({**os.environ, **read_env(state)}, "ledger", committed_transaction(7))
                found = wait_for(
                    lambda: http.get(f"/v2/triggers/{trigger_id}/occurrences").json()["cursor"][
                        "data"
                    ]
                )
                assert len(found) == 1
        finally:
            assert stop_dev(proc) == 0

        proc, ready, _ = start_dev(state)
        try:
            with httpx.Client(base_url=ready.group(1), timeout=10) as http:
                assert workflow_names(http) == []
        finally:
            assert stop_dev(proc) == 0
        # A run without --keep leaves the kept data alone for the next --keep.
        assert (state / "postgres" / "data" / "PG_VERSION").exists()
    finally:
        shutil.rmtree(state, ignore_errors=True)


# What an error-level line looks like in either log format, or an unlogged failure.
ERROR_LINE = re.compile(
    r"\[(error|critical|exception)\s*\]|\"level\": ?\"(error|critical)\"|^error:|^Traceback"
)


def test_a_fresh_start_logs_no_error_before_ready(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATION_STACK_URL"}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "compose", "dev"),
            *("--port", str(port), "--state-dir", str(tmp_path)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the children's logs and our own lines, in order
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("ready:"):
                break
        last = lines[-1] if lines else ""
        assert last.startswith("ready:"), "\n".join(lines[-40:])
    finally:
        code = stop_dev(proc)
    assert code == 0
    errors = [line for line in lines if ERROR_LINE.search(line)]
    assert errors == [], "\n".join(errors)
    # The output was read at all: the children's start-up lines are in it.
    assert any("worker.started" in line for line in lines)
    # It says which mode it runs in, and says no more than needed.
    assert any("fresh state, removed on stop" in line for line in lines)
    assert not any("setup plugin" in line for line in lines)


def test_the_workers_probes_are_on_and_their_port_is_in_the_env_file(tmp_path: Path) -> None:
    proc, ready, _ = start_dev(tmp_path)
    try:
        port = read_env(tmp_path)["ORCHESTRATION_WORKER_METRICS_PORT"]
        assert ready.group(2) == f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            assert wait_for(lambda: http.get("/readyz").json() == {"status": "ready"})
            metrics = http.get("/metrics")
            assert metrics.status_code == 200
            assert "orchestration_inbound_events_total" in metrics.text
    finally:
        assert stop_dev(proc) == 0


def test_a_dead_api_ends_the_dev_stack_loudly(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "dev.log"
    proc, _, pids = start_dev(state, log=log)
    os.kill(pids["api"], signal.SIGKILL)
    code = proc.wait(timeout=90)
    proc.stdout.close()  # type: ignore[union-attr]
    assert code == 1
    assert "error: the api exited (signal SIGKILL)" in log.read_text()
    assert wait_gone(pids) == []
