"""`orchestration api` as a real process: serves, then stops cleanly on SIGTERM
with what it committed published (the outbox drained)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streams import KafkaSettings, Topics

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_serves_and_stops_on_sigterm(
    database_url: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "ORCHESTRATION_DATABASE_URL": database_url,
        "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.kafka_bootstrap_servers,
        "ORCHESTRATION_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "ORCHESTRATION_API_HOST": "127.0.0.1",
        "ORCHESTRATION_API_PORT": str(port),
        "ORCHESTRATION_LOG_FORMAT": "json",
    }
    log = tmp_path / "api.log"
    cli = Path(sys.executable).with_name("orchestration")
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(cli), "api", env=env, stdout=out, stderr=out
        )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(600):
                assert proc.returncode is None, log.read_text()
                try:
                    if (await client.get("/_healthcheck")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            created = await client.post(
                "/workflows", json={"name": "sigterm"}, headers={"Authorization": "Bearer x"}
            )
            assert created.status_code == 201
            workflow_id = created.json()["data"]["id"]
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert await asyncio.wait_for(proc.wait(), 60) in (0, -signal.SIGTERM)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = log.read_text()
    assert "api.stopped" in text  # the lifespan's shutdown ran to its end
    assert "Bearer x" not in text

    consumer = AIOKafkaConsumer(
        Topics.from_settings(kafka_settings).definitions,
        bootstrap_servers=kafka_settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found += [
                    orjson.loads(r.value)
                    for r in records
                    if r.key == f"workflow:{workflow_id}".encode()
                ]
            if found:
                break
    finally:
        await consumer.stop()
    assert found
    assert found[0]["config"] == {"name": "sigterm"}
