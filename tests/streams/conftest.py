"""Fixtures for the Kafka proofs: topics with explicit partitions, faust apps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest

from streams import KafkaSettings
from tests.streams.faust_apps import CountingApp, counting_app
from tests.streams.kafka_helpers import create_topic, unique


@pytest.fixture
def make_topic(kafka_bootstrap: str) -> Callable[..., Awaitable[str]]:
    """Factory: create a uniquely named topic; returns its name."""

    async def make(
        name: str = "topic", *, partitions: int = 1, configs: Mapping[str, str] | None = None
    ) -> str:
        return await create_topic(
            kafka_bootstrap, unique(name), partitions=partitions, configs=configs
        )

    return make


@pytest.fixture
async def make_counting_app(
    make_kafka_settings: Callable[..., KafkaSettings],
) -> AsyncIterator[Callable[..., CountingApp]]:
    """Factory: a counting faust app (built, not started) from `streams.create_app`.

    Any app a failed test left running is stopped at teardown.
    """
    settings = make_kafka_settings()
    built: list[CountingApp] = []

    def make(*, app_id: str, source: str, partitions: int, **overrides: Any) -> CountingApp:
        app = counting_app(
            settings, app_id=app_id, source=source, partitions=partitions, **overrides
        )
        built.append(app)
        return app

    yield make
    for app in built:
        if app.app.started and not app.app.should_stop:
            await app.stop()
