"""The in-memory trigger index every worker holds whole.

Keyed by event type, so selecting the candidates of an event is one dict
lookup; no database query per event. Triggers whose workflow is unknown or
soft-deleted are never candidates (upstream keeps firing them: a defect).
"""

from __future__ import annotations

from collections.abc import Iterator

from triggers.model import CompiledTrigger, Trigger, compile_trigger


class TriggerIndex:
    def __init__(self) -> None:
        self._by_type: dict[str, dict[str, CompiledTrigger]] = {}
        self._type_of: dict[str, str] = {}
        self._linking: set[str] = set()
        self._live_workflows: set[str] = set()

    @property
    def uses_link(self) -> bool:
        """Some trigger may call link(): matching can block on HTTP."""
        return bool(self._linking)

    def __len__(self) -> int:
        return len(self._type_of)

    def __iter__(self) -> Iterator[CompiledTrigger]:
        for group in self._by_type.values():
            yield from group.values()

    def put_trigger(self, trigger: Trigger) -> CompiledTrigger:
        """Add or replace a trigger; raises InvalidTrigger if it does not compile."""
        compiled = compile_trigger(trigger)
        self.remove_trigger(trigger.id)
        self._by_type.setdefault(trigger.event, {})[trigger.id] = compiled
        self._type_of[trigger.id] = trigger.event
        if compiled.uses_link:
            self._linking.add(trigger.id)
        return compiled

    def remove_trigger(self, trigger_id: str) -> None:
        event = self._type_of.pop(trigger_id, None)
        self._linking.discard(trigger_id)
        if event is not None:
            group = self._by_type[event]
            del group[trigger_id]
            if not group:
                del self._by_type[event]

    def put_workflow(self, workflow_id: str, *, deleted: bool) -> None:
        if deleted:
            self._live_workflows.discard(workflow_id)
        else:
            self._live_workflows.add(workflow_id)

    def candidates(self, event_type: str, version: str) -> list[CompiledTrigger]:
        """Triggers for this type whose version is unset or equal, in definition order."""
        group = self._by_type.get(event_type)
        if not group:
            return []
        live = self._live_workflows
        return [
            c
            for c in group.values()
            if (c.trigger.version is None or c.trigger.version == version)
            and c.trigger.workflow_id in live
        ]
