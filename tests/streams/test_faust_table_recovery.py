"""A faust table survives a restart: its state comes back from the changelog.

The app counts events per key into a changelog-backed table on the
in-memory store. It is stopped, and a new app instance with the same id
(same consumer group, same changelog topic, empty store) is started: once
recovery completes the table holds the old counts, and new events continue
from them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from tests.streams.faust_apps import CountingApp
from tests.streams.kafka_helpers import (
    committed_offsets,
    eventually,
    publish,
    read_topic,
    topic_configs,
    topic_partitions,
    unique,
)

pytestmark = pytest.mark.integration

PARTITIONS = 3


def events_for(counts: dict[int, int]) -> list[tuple[bytes, int]]:
    """`counts[i]` events for key k{i}, which lives on partition i % PARTITIONS."""
    return [(f"k{i}".encode(), i % PARTITIONS) for i, n in counts.items() for _ in range(n)]


def as_table(counts: dict[int, int]) -> dict[bytes, int]:
    return {f"k{i}".encode(): n for i, n in counts.items()}


async def test_table_state_is_recovered_from_the_changelog_after_a_restart(
    kafka_bootstrap: str,
    make_topic: Callable[..., Awaitable[str]],
    make_counting_app: Callable[..., CountingApp],
) -> None:
    source = await make_topic("counted", partitions=PARTITIONS)
    app_id = unique("counter")
    first_counts = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6}

    first = make_counting_app(app_id=app_id, source=source, partitions=PARTITIONS)
    started = time.monotonic()
    await first.start()
    await publish(kafka_bootstrap, source, events_for(first_counts))

    async def counted(app: CountingApp, expected: dict[bytes, int]) -> bool:
        return app.counts() == expected

    await eventually(lambda: counted(first, as_table(first_counts)), what="the first counts")
    first_run = time.monotonic() - started
    # Wait for the offsets too: a restart must not count these events again,
    # so whatever the second app knows can only come from the changelog.
    per_partition = {p: 0 for p in range(PARTITIONS)}
    for _key, partition in events_for(first_counts):
        per_partition[partition] += 1

    async def all_committed() -> bool:
        offsets = await committed_offsets(kafka_bootstrap, app_id, source, PARTITIONS)
        return offsets == per_partition

    await eventually(all_committed, what="the app to commit every source offset")
    await first.stop()

    # The changelog: one partition per source partition, compacted, and the
    # latest record per key is that key's count.
    changelog = first.changelog_topic
    assert await topic_partitions(kafka_bootstrap, changelog) == PARTITIONS
    assert (await topic_configs(kafka_bootstrap, changelog))["cleanup.policy"] == "compact"
    latest = {
        r.key: (r.partition, int(r.value)) for r in await read_topic(kafka_bootstrap, changelog)
    }
    assert latest == {f"k{i}".encode(): (i % PARTITIONS, n) for i, n in first_counts.items()}

    second = make_counting_app(app_id=app_id, source=source, partitions=PARTITIONS)
    assert second.counts() == {}
    restarted = time.monotonic()
    await second.start()
    await asyncio.wait_for(second.app.tables.recovery.completed.wait(), timeout=60)
    recovery = time.monotonic() - restarted
    assert second.counts() == as_table(first_counts)
    assert second.seen == [], "recovered from the changelog, not by re-reading the source"

    more = {0: 1, 5: 2, 6: 3}
    await publish(kafka_bootstrap, source, events_for(more))
    expected = {i: first_counts.get(i, 0) + more.get(i, 0) for i in first_counts | more}
    await eventually(lambda: counted(second, as_table(expected)), what="the continued counts")
    await second.stop()
    print(f"first run {first_run:.1f}s, restart to recovered {recovery:.1f}s")
