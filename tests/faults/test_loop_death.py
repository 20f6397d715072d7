"""A background loop that dies takes its process down: exit 1, one clear log line.

Each production process is started for real (`orchestration api` / `worker`
against the session's Kafka and PostgreSQL) with one loop's body replaced by
one that fails after a second, the way an unexpected bug would. The process
must not go on running beside a dead loop (a frozen trigger index, a relay
that no longer publishes): it exits non-zero so a supervisor restarts it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from compose.localstack import free_port
from streams import KafkaSettings
from tests.processes import process_env

pytestmark = pytest.mark.integration

# Runs the real CLI after swapping one loop body; `target` is the loop's name.
_INJECT = """
import asyncio, sys
from api.outbox import OutboxRelay
from engine.worker.definitions_reader import DefinitionsReader
from streams.batches import BatchConsumer

process, target = sys.argv[1], sys.argv[2]

async def _fail() -> None:
    await asyncio.sleep(1)
    raise RuntimeError("injected failure in " + target)

def wrap(cls, attr, name_of):
    original = getattr(cls, attr)
    async def body(self):
        if name_of(self) == target:
            await _fail()
        return await original(self)
    setattr(cls, attr, body)

wrap(OutboxRelay, "_run", lambda self: "outbox-relay")
wrap(DefinitionsReader, "_tail", lambda self: "definitions-tail")
wrap(BatchConsumer, "_run", lambda self: self.name)

from compose.cli import app
sys.argv = ["orchestration", process]
app()
"""


@pytest.mark.parametrize(
    ("process", "loop"),
    [
        ("api", "outbox-relay"),
        ("worker", "definitions-tail"),
        ("worker", "match"),
        ("worker", "project"),
    ],
)
def test_a_dead_loop_makes_its_process_exit_non_zero(
    process: str,
    loop: str,
    make_database: Callable[..., str],
    make_kafka_settings: Callable[..., KafkaSettings],
    tmp_path: Path,
) -> None:
    env = process_env(
        make_kafka_settings(),
        make_database(),
        api_host="127.0.0.1",
        api_port=str(free_port()),
        log_format="json",
    )
    log = tmp_path / f"{process}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _INJECT, process, loop],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            code = proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert code == 1, text[-3000:]
    died = [line for line in text.splitlines() if "loop_died" in line]
    assert len(died) == 1, text[-3000:]
    assert loop in died[0]
    assert "injected failure" in died[0]
