"""A counting Faust app built with the project's factory, for the faust proofs.

One agent counts events per key into a changelog-backed table. Each call
builds a NEW app instance (new table, new in-memory store), so whatever a
second instance with the same id knows came back from the changelog topic.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import faust

from streams import KafkaSettings, create_app, raw_topic

TABLE = "counts"


@dataclass
class CountingApp:
    app: faust.App
    table: Any  # faust.Table: a mapping of key bytes to counts
    seen: list[bytes] = field(default_factory=list)

    @property
    def changelog_topic(self) -> str:
        return f"{self.app.conf.id}-{TABLE}-changelog"

    def counts(self) -> dict[bytes, int]:
        # items() reads the store; table[key] would write the default (0) for
        # a missing key, which faust refuses outside an agent.
        return dict(self.table.items())

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        # Bounded: an agent that crashed mid-event can make stop() wait for an
        # ack that never comes (see test_faust_partitions.py).
        await asyncio.wait_for(self.app.stop(), timeout=60)


def counting_app(
    settings: KafkaSettings, *, app_id: str, source: str, partitions: int, **overrides: Any
) -> CountingApp:
    """Build (not start) the app; `partitions` is the table's partition count."""
    # Faust writes `<app id>-data/` into the working directory by default.
    overrides.setdefault("datadir", tempfile.mkdtemp(prefix=f"{app_id}-"))
    app = create_app(settings, app_id=app_id, **overrides)
    topic = raw_topic(app, source)
    table = app.Table(TABLE, default=int, partitions=partitions, key_type=bytes, value_type=int)
    built = CountingApp(app=app, table=table)

    async def count(stream: AsyncIterator[Any]) -> None:
        async for key, _value in stream.items():  # type: ignore[attr-defined]
            built.seen.append(key)
            table[key] += 1

    app.agent(topic, name=f"{app_id}.count")(count)
    return built
