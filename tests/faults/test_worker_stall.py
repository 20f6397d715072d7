"""A worker whose projector cannot reach PostgreSQL while history waits fails /healthz.

`orchestration worker` runs for real, its database reached through a TCP
relay this test cuts (connections dropped, new ones closed at once): the
projector keeps retrying its batch, the history record waits, and after
ORCHESTRATION_WORKER_STALL_SECONDS `/healthz` answers 503 naming the loop.
Once the relay forwards again the batch is written and `/healthz` says 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.engine import make_url

from compose.localstack import free_port
from compose.localstack._process import port_open, terminate
from engine import history
from streams import KafkaSettings, Topics
from tests.processes import process_env

pytestmark = pytest.mark.integration


class Relay:
    """Forwards 127.0.0.1:`port` to `target`; `cut` drops every connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.open = threading.Event()
        self.open.set()
        self._live: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._live += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open.clear()
        with self._lock:
            live, self._live = self._live, []
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self._server.close()


@pytest.fixture
def relay_to() -> Iterator[Callable[[str], tuple[Relay, str]]]:
    made: list[Relay] = []

    def make(database_url: str) -> tuple[Relay, str]:
        url = make_url(database_url)
        relay = Relay((url.host or "127.0.0.1", url.port or 5432))
        made.append(relay)
        relayed = url.set(host="127.0.0.1", port=relay.port)
        return relay, relayed.render_as_string(hide_password=False)

    yield make
    for relay in made:
        relay.close()


def _health(base: str) -> tuple[int, dict[str, object]] | None:
    try:
        answer = httpx.get(f"{base}/healthz", timeout=2)
    except httpx.HTTPError:
        return None
    return answer.status_code, answer.json()


def _until(probe: Callable[[], object], what: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while not probe():
        assert worker.poll() is None, "the worker exited"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_projector_that_cannot_write_turns_healthz_503_and_back(
    make_database: Callable[..., str],
    make_kafka_settings: Callable[..., KafkaSettings],
    relay_to: Callable[[str], tuple[Relay, str]],
    tmp_path: Path,
) -> None:
    kafka = make_kafka_settings()
    database = make_database()
    with psycopg.connect(database) as conn:
        conn.execute("INSERT INTO workflows (id, config) VALUES ('w1', '{\"stages\": []}')")
        conn.execute("INSERT INTO triggers (id, workflow_id, event) VALUES ('t1', 'w1', 'E')")
    relay, relayed = relay_to(database)
    metrics_port = free_port()
    env = process_env(
        kafka,
        relayed,
        worker_metrics_port=str(metrics_port),
        worker_stall_seconds="3",
        log_format="json",
    )
    base = f"http://127.0.0.1:{metrics_port}"
    with (tmp_path / "worker.log").open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "compose", "worker"], env=env, stdout=out, stderr=out
        )
    try:
        _until(lambda: port_open(metrics_port), "the probes", worker)
        assert _health(base) == (200, {"status": "ok"})
        relay.cut()
        record = history.trigger_occurred(
            {
                "id": "o1",
                "triggerID": "t1",
                "date": "2025-03-04T10:22:00.001Z",
                "event": {"type": "E", "payload": {}},
                "error": "boom",
            },
            None,
        )
        asyncio.run(_produce(kafka, Topics.from_settings(kafka).history, history.encode(record)))

        def stalled() -> bool:
            health = _health(base)
            return health is not None and health[0] == 503

        _until(stalled, "/healthz 503", worker)
        health = _health(base)
        assert health is not None
        assert health[1]["status"] == "stalled"
        assert list(health[1]["loops"]) == ["project-loop"]  # type: ignore[call-overload]

        relay.restore()
        _until(lambda: _health(base) == (200, {"status": "ok"}), "/healthz 200 again", worker)
    finally:
        terminate(worker, grace=20)
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT id FROM triggers_occurrences").fetchall()
    assert row == [("o1",)]


async def _produce(kafka: KafkaSettings, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"o1")
    finally:
        await producer.stop()
