"""link() in trigger vars, through the real worker, against a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from engine.db import create_db_engine
from engine.settings import DatabaseSettings
from engine.stack import StackSettings
from engine.worker import Worker
from streams import KafkaSettings
from triggers import Trigger

pytestmark = pytest.mark.integration


class _Stack(BaseHTTPRequestHandler):
    seen_tokens: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        _Stack.seen_tokens.append(self.headers.get("Authorization"))
        if self.path == "/api/payments/accounts/acc_1":
            body = json.dumps({"data": {"role": "admin", "id": "acc_1"}}).encode()
            self.send_response(200)
        else:
            body = b"{}"
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stack_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def payment(pid: str, uri: str) -> bytes:
    return json.dumps(
        {
            "idempotency_key": f"{pid}-SUCCEEDED",
            "date": "2025-03-04T09:00:00Z",
            "app": "payments",
            "version": "v3",
            "type": "SAVED_PAYMENT",
            "payload": {"id": pid, "links": [{"name": "source_account", "uri": uri}]},
        }
    ).encode()


async def test_link_vars_read_the_stack_and_foreign_links_are_refused(
    stack_url: str,
    make_database: Callable[..., str],
    make_kafka_settings: Callable[..., KafkaSettings],
) -> None:
    kafka = make_kafka_settings()
    database = make_database()
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO workflows (id, config) VALUES ('w1', '{}')")
        conn.execute("INSERT INTO triggers (id, workflow_id, event) VALUES ('t1', 'w1', 'x')")
    db = create_db_engine(DatabaseSettings(database_url=database))
    stack = StackSettings(stack_url=stack_url, stack_token=SecretStr("s3cret"))
    worker = Worker(kafka, db, stack)
    worker.index.put_workflow("w1", deleted=False)
    worker.index.put_trigger(
        Trigger(
            id="t1",
            workflow_id="w1",
            event="SAVED_PAYMENT",
            vars={"role": 'link(event, "source_account").role'},
        )
    )
    await worker.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            kafka.topics[1], payment("pay_1", f"{stack_url}/api/payments/accounts/acc_1")
        )
        await producer.send_and_wait(
            kafka.topics[1], payment("pay_2", "http://169.254.169.254/latest/meta-data")
        )
        rows: list[tuple[Any, ...]] = []
        async with asyncio.timeout(30):
            while len(rows) < 2:
                await asyncio.sleep(0.2)
                with psycopg.connect(database) as conn:
                    rows = conn.execute(
                        "SELECT o.event->'payload'->>'id', o.error, i.variables"
                        " FROM triggers_occurrences o"
                        " LEFT JOIN workflow_instances i ON i.id = o.workflow_instance_id"
                        " ORDER BY 1"
                    ).fetchall()
    finally:
        await producer.stop()
        await worker.stop()
        await db.dispose()
    (first, first_error, first_vars), (second, second_error, second_vars) = rows
    assert (first, first_error, first_vars) == ("pay_1", None, {"role": "admin"})
    assert second == "pay_2"
    assert second_vars is None
    assert "169.254.169.254" in second_error
    # The token went to the stack, and only there (one read in all).
    assert _Stack.seen_tokens == ["Bearer s3cret"]
