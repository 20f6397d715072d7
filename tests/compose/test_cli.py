import asyncio
import gc
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from compose.cli import WORKER_GC_THRESHOLD, _freeze_when_ready, _parse_events
from compose.localstack import free_port
from streams import KafkaSettings, codec
from streams.topics import ensure_topics

pytestmark = pytest.mark.unit


def test_publish_reads_one_json_document_or_json_lines() -> None:
    assert _parse_events('{"type": "A",\n "payload": {}}') == [{"type": "A", "payload": {}}]
    assert _parse_events('{"type": "A"}\n\n{"type": "B"}\n') == [{"type": "A"}, {"type": "B"}]
    with pytest.raises(ValueError, match="line 2"):
        _parse_events('{"type": "A"}\nnot json\n')
    with pytest.raises(ValueError, match="no event"):
        _parse_events("  \n")


@pytest.mark.integration
def test_a_worker_stopped_while_its_broker_hangs_exits_at_once() -> None:
    """SIGTERM while the start waits on a broker that accepts connections and never
    answers (one going down with the dev stack): the worker stops, it does
    not wait out aiokafka's 40 s request timeout."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        env = {**os.environ, "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}
        with subprocess.Popen(
            [sys.executable, "-m", "compose", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as worker:
            # Connected (the kernel accepts for the listening socket) and waiting.
            time.sleep(3)
            assert worker.poll() is None
            sent = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            try:
                _, stderr = worker.communicate(timeout=30)
            finally:
                worker.kill()
            took = time.monotonic() - sent
            code = worker.returncode
    assert code == 0, stderr
    assert took < 20, f"stopped after {took:.0f} s"
    assert "Traceback" not in stderr


@pytest.mark.integration
def test_a_worker_whose_start_hangs_exits_non_zero_after_its_bound() -> None:
    """A broker that accepts connections and never answers: the start does not
    hang for ever (unready, undead); past ORCHESTRATION_WORKER_START_SECONDS
    the worker says so and exits 1 for its supervisor to restart it."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        env = {
            **os.environ,
            "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
            "ORCHESTRATION_WORKER_START_SECONDS": "3",
        }
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "compose", "worker"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert "not started within 3 s" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 40


@pytest.mark.integration
def test_the_worker_says_what_is_unreachable_and_exits_non_zero() -> None:
    env = {**os.environ, "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    result = subprocess.run(
        [sys.executable, "-m", "compose", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "cannot start the worker" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_help_say_what_configures_the_processes() -> None:
    from importlib.metadata import version

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "compose", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        return done.stdout

    assert run("--version").strip() == f"orchestration {version('orchestration')}"
    for command in ("api", "worker", "migrate"):
        assert "ORCHESTRATION_" in run(command, "--help"), command


def run_publish(
    cwd: Path, event: object, topic: str = "ledger", **env: str
) -> subprocess.CompletedProcess[str]:
    """`orchestration publish` in `cwd`, with no broker in the environment but `env`."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS", "ORCHESTRATION_DEV_DIR")
    }
    return subprocess.run(
        [sys.executable, "-m", "compose", "publish", "--topic", topic, "-"],
        input=codec.dumps(event).decode(),
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, **env},
        timeout=60,
        check=False,
    )


def test_publish_without_a_dev_stack_says_how_to_name_one(tmp_path: Path) -> None:
    result = run_publish(tmp_path, {"type": "A"})
    assert result.returncode == 1
    assert "no running `orchestration dev` found" in result.stderr
    assert "ORCHESTRATION_DEV_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def consume_all(settings: KafkaSettings, topic: str, count: int) -> list[object]:
    async def consume() -> list[object]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            got: list[object] = []
            async with asyncio.timeout(60):
                while len(got) < count:
                    batch = await consumer.getmany(timeout_ms=1000)
                    got += [codec.loads(r.value) for rs in batch.values() for r in rs if r.value]
            return got
        finally:
            await consumer.stop()

    return asyncio.run(consume())


@pytest.mark.integration
def test_publish_finds_the_dev_stack_from_a_subdirectory_or_through_orchestration_dev_dir(
    make_kafka_settings: Callable[..., KafkaSettings], tmp_path: Path
) -> None:
    settings = make_kafka_settings()
    asyncio.run(ensure_topics(settings))
    topic = settings.topics[0]
    checkout = tmp_path / "checkout"
    state = checkout / ".orchestration" / "dev"
    state.mkdir(parents=True)
    (state / "env").write_text(
        f"ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap_servers}\n"
    )
    nested = checkout / "docs" / "examples"
    nested.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    found_upwards = run_publish(nested, {"n": 1}, topic)
    assert found_upwards.returncode == 0, found_upwards.stderr
    named = run_publish(elsewhere, {"n": 2}, topic, ORCHESTRATION_DEV_DIR=str(state))
    assert named.returncode == 0, named.stderr
    # Two partitions: no order between the two.
    assert sorted(map(codec.dumps, consume_all(settings, topic, 2))) == [b'{"n":1}', b'{"n":2}']


async def test_the_worker_heap_is_frozen_and_collected_less_often_once_the_index_is_ready() -> None:
    class Reader:
        ready = asyncio.Event()

    class Runtime:
        reader = Reader()

    gc.unfreeze()
    thresholds = gc.get_threshold()
    freezing = asyncio.create_task(_freeze_when_ready(Runtime()))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    try:
        assert not freezing.done()
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == thresholds
        Runtime.reader.ready.set()
        await freezing
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == WORKER_GC_THRESHOLD != thresholds
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
