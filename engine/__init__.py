"""Workflows and their instances: what the API writes and the worker runs.

The package holds the workflow configuration (``engine.config``: parse,
resolve a stage at start), the definition and command records the API
publishes through its outbox (``engine.definitions``, ``engine.commands``),
the history contract and its Postgres projection (``engine.history``,
``engine.projection``, ``engine.db``), the Formance stack client settings and
``link()`` fetcher (``engine.stack``), the activity clients
(``engine.activities``), the trigger matching step (``engine.matching``), the pure instance state
machine (``engine.instance``: ``step(state, input) -> Outcome``), the public
lifecycle events derived from its history (``engine.events``, BEHAVIOUR 10)
the worker process (``engine.worker``) and trigger replays (an extension:
``engine.replay``, run by ``engine.worker.replayer``).

The API uses only this facade::

    from engine import commands, parse_workflow, trigger_record, migrate
"""

from engine import commands
from engine.config import WorkflowConfigError, parse_workflow
from engine.db import create_db_engine, migrate, schema
from engine.definitions import (
    WorkflowDefinition,
    trigger_record,
    trigger_tombstone,
    workflow_record,
)
from engine.replay import Progress as ReplayProgress
from engine.replay import ReplayError
from engine.replay import Window as ReplayWindow
from engine.settings import DatabaseSettings
from engine.stack import StackSettings, link_fetcher
from engine.worker.replayer import run_replay

__all__ = [
    "DatabaseSettings",
    "ReplayError",
    "ReplayProgress",
    "ReplayWindow",
    "StackSettings",
    "WorkflowConfigError",
    "WorkflowDefinition",
    "commands",
    "create_db_engine",
    "link_fetcher",
    "migrate",
    "parse_workflow",
    "run_replay",
    "schema",
    "trigger_record",
    "trigger_tombstone",
    "workflow_record",
]
