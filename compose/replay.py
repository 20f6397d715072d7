"""`orchestration replay`: replay past events into one trigger straight from Kafka.

The trigger and its workflow come from the definitions topic (what every
worker reads), not from the API; the events from the inbound topics; what
the replay produces goes where the live matcher sends it. The same
`engine.run_replay` serves `POST /v2/triggers/{id}/replay`.

With `ORCHESTRATION_DATABASE_URL` set (an `orchestration dev` env sets it),
occurrences already in the projection are skipped, as the API does; without
it, only the instance runtime's 7-day memory of finished instances stops an
old instance from being started again, and the CLI says so.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Collection
from typing import TextIO

from sqlalchemy import select

from engine import (
    DatabaseSettings,
    ReplayProgress,
    ReplayWindow,
    StackSettings,
    create_db_engine,
    link_fetcher,
    run_replay,
    schema,
)
from engine.definitions import WorkflowDefinition
from engine.worker.definitions_reader import DefinitionsReader
from streams import KafkaSettings, Topics
from triggers import Trigger, TriggerIndex

# A progress line at most this often: readable, and cheap on a fast replay.
PROGRESS_EVERY_S = 1.0


class ReplayFailed(Exception):
    """The replay cannot run (unknown trigger, deleted workflow) or stopped."""


async def load_definitions(
    kafka: KafkaSettings, trigger_id: str
) -> tuple[Trigger, WorkflowDefinition]:
    """The trigger and its workflow as the definitions topic holds them now."""
    reader = DefinitionsReader(kafka, Topics.from_settings(kafka).definitions, TriggerIndex())
    await reader.start()
    await reader.stop()
    trigger = next((c.trigger for c in reader.index if c.trigger.id == trigger_id), None)
    if trigger is None:
        raise ReplayFailed(f"trigger {trigger_id} not found (or deleted)")
    workflow = reader.workflows.get(trigger.workflow_id)
    if workflow is None or workflow.deleted_at is not None:
        raise ReplayFailed(f"workflow {trigger.workflow_id} of trigger {trigger_id} is deleted")
    return trigger, workflow


def progress_line(progress: ReplayProgress) -> str:
    return (
        f"replay: {progress.read}/{progress.to_read} records read, "
        f"{progress.in_window} in the window, {progress.occurrences} occurrences"
    )


def summary(progress: ReplayProgress) -> list[str]:
    lines = [
        f"replayed trigger {progress.trigger_id}: {progress.read} records read, "
        f"{progress.in_window} in the window, {progress.matched} matched, "
        f"{progress.occurrences} occurrences ({progress.known} already recorded, "
        f"{progress.starts} start commands sent), "
        f"{progress.filter_errors} filter errors"
    ]
    if progress.message is not None:
        lines.append(f"warning: {progress.message}")
    return lines


async def replay(
    kafka: KafkaSettings,
    trigger_id: str,
    window: ReplayWindow,
    err: TextIO = sys.stderr,
    database: DatabaseSettings | None = None,
) -> ReplayProgress:
    trigger, workflow = await load_definitions(kafka, trigger_id)
    db = create_db_engine(database) if database is not None else None
    if db is None:
        print(
            "warning: no ORCHESTRATION_DATABASE_URL: occurrences already recorded are sent "
            "again (instances finished over 7 days ago would start again)",
            file=err,
        )
    table = schema.triggers_occurrences

    async def known(ids: Collection[str]) -> set[str]:
        assert db is not None
        async with db.connect() as conn:
            rows = await conn.execute(select(table.c.id).where(table.c.id.in_(list(ids))))
            return {row[0] for row in rows}

    progress = ReplayProgress(id=str(uuid.uuid4()), trigger_id=trigger_id, window=window)
    last = time.monotonic()

    def report(current: ReplayProgress) -> None:
        nonlocal last
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            print(progress_line(current), file=err, flush=True)

    try:
        await run_replay(
            kafka,
            trigger,
            workflow,
            progress,
            fetch=link_fetcher(StackSettings()),
            on_batch=report,
            known=known if db is not None else None,
        )
    except Exception as exc:
        raise ReplayFailed(progress.error or str(exc)) from exc
    finally:
        if db is not None:
            await db.dispose()
    return progress
