"""Shared fixtures: a real Kafka broker and a real PostgreSQL for the session.

Where they come from, first match wins:
1. `ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS` / `ORCHESTRATION_DATABASE_URL`;
2. testcontainers, when a Docker engine answers;
3. the no-Docker local stack (`compose.localstack`): Kafka from Maven jars,
   PostgreSQL from the installed server binaries.

Tests isolate themselves with factories: a fresh database per test module
(`make_database`) and a unique topic prefix per test (`make_kafka_settings`).
A test that stops a server (fault tests) starts its own: `own_kafka`,
`own_postgres`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from compose.localstack import KafkaBroker, PostgresCluster
from engine.db import migrate
from engine.settings import DatabaseSettings
from streams import KafkaSettings


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.fixture(scope="session")
def docker_available() -> bool:
    return _docker_answers()


@pytest.fixture(scope="session")
def kafka_bootstrap(docker_available: bool) -> Iterator[str]:
    given = os.environ.get("ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    if docker_available:
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    with KafkaBroker() as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def postgres_url(docker_available: bool) -> Iterator[str]:
    """URL of a server where tests may create databases (its `postgres`-like db)."""
    given = os.environ.get("ORCHESTRATION_DATABASE_URL")
    if given:
        yield given
        return
    if docker_available:
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver=None) as container:
            yield container.get_connection_url()
        return
    with PostgresCluster() as cluster:
        yield cluster.url


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def create_database(server_url: str, *, migrated: bool = True) -> str:
    """A new (migrated) database on the server of `server_url`; returns its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    if migrated:
        migrate(url)
    return url


@pytest.fixture(scope="session")
def make_database(postgres_url: str) -> Callable[..., str]:
    """Factory: a new, migrated database; returns its URL."""

    def make(*, migrated: bool = True) -> str:
        return create_database(postgres_url, migrated=migrated)

    return make


@pytest.fixture
def own_kafka() -> Iterator[KafkaBroker]:
    """A broker of this test's own (the local stack's, never a shared one):
    `halt()` then `start()` stops and restarts it on the same port and data."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL of this test's own, which it may `halt()` and `start()` again
    (same port, same data); `create_database(own_postgres.url)` makes a database."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def database_url(make_database: Callable[..., str]) -> str:
    return make_database()


@pytest.fixture
def database_settings(database_url: str) -> DatabaseSettings:
    return DatabaseSettings(database_url=database_url)


@pytest.fixture(scope="session")
def make_kafka_settings(kafka_bootstrap: str) -> Callable[..., KafkaSettings]:
    """Factory: settings with a unique topic prefix (and inbound topics) per call
    (session-scoped so module-scoped stacks can use it)."""

    def make(**overrides: object) -> KafkaSettings:
        tag = uuid.uuid4().hex[:8]
        values: dict[str, object] = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "topic_prefix": f"t{tag}.",
            "topics": [f"t{tag}.ledger", f"t{tag}.payments"],
            "consumer_group": f"orchestration-{tag}",
            "partitions": 2,
        }
        values.update(overrides)
        return KafkaSettings(**values)  # type: ignore[arg-type]

    return make
