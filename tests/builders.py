"""Builders for the trigger and index fixtures several test packages share."""

from __future__ import annotations

from typing import Any

from triggers import Trigger, TriggerIndex


def make_trigger(**overrides: Any) -> Trigger:
    """A trigger of workflow `w1` on `COMMITTED_TRANSACTIONS`, with `overrides`."""
    values: dict[str, Any] = {"id": "t1", "workflow_id": "w1", "event": "COMMITTED_TRANSACTIONS"}
    values.update(overrides)
    return Trigger(**values)


def make_index(*triggers: Trigger, live: tuple[str, ...] = ("w1",)) -> TriggerIndex:
    """An index holding `triggers`, with the workflows `live` present and not deleted."""
    index = TriggerIndex()
    for workflow in live:
        index.put_workflow(workflow, deleted=False)
    for trigger in triggers:
        index.put_trigger(trigger)
    return index
