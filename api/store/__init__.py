"""Reads and writes of the projection (parameterised SQLAlchemy Core only).

Writes of definitions and commands go with their outbox row in the caller's
transaction, so Kafka sees exactly what Postgres committed. Every list has a
stable order: creation time, then id (upstream has none).
"""

from api.store.instances import (
    get_activity,
    get_instance,
    get_instance_row,
    insert_instance,
    list_instance_history,
    list_instances,
    list_paused_activities,
    list_stage_history,
    lock_stage_status,
    send_command,
    stage_started,
)
from api.store.triggers import (
    delete_trigger,
    get_trigger,
    insert_trigger,
    known_occurrences,
    list_occurrences,
    list_triggers,
)
from api.store.workflows import delete_workflow, get_workflow, insert_workflow, list_workflows

__all__ = [
    "delete_trigger",
    "delete_workflow",
    "get_activity",
    "get_instance",
    "get_instance_row",
    "get_trigger",
    "get_workflow",
    "insert_instance",
    "insert_trigger",
    "insert_workflow",
    "known_occurrences",
    "list_instance_history",
    "list_instances",
    "list_occurrences",
    "list_paused_activities",
    "list_stage_history",
    "list_triggers",
    "list_workflows",
    "lock_stage_status",
    "send_command",
    "stage_started",
]
