"""The in-memory trigger index every worker holds whole.

Keyed by event type, so selecting the candidates of an event is one dict
lookup; no database query per event. Triggers whose workflow is unknown or
soft-deleted are never candidates (upstream keeps firing them: a defect).

Within a type, filters that begin with simple tests on the payload
(`event.ledger == "main" && amount > 100 && ...`, see `expr.leading_equalities`)
are indexed by one of their equality tests, the one the fewest triggers of
the type share (the tests before it must be safe for the event): `select`
evaluates only the triggers whose key matches the event's value at that path,
plus every trigger it cannot rule out (no such test, or a path the event does
not resolve on the evaluator's fast path). A skipped trigger is one whose
filter full evaluation would find false without an error.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from triggers import expr
from triggers.model import CompiledTrigger, Trigger, compile_trigger

Entry = tuple[int, CompiledTrigger]  # (definition order, trigger)


@dataclass(slots=True)
class _Keyed:
    """Triggers keyed by the value at `path`; `guards` are the paths of the
    equality tests their filters evaluate first (they must resolve too)."""

    path: expr.Path
    guards: tuple[expr.EqualityTest, ...]
    by_value: dict[str, list[Entry]] = field(default_factory=dict)
    every: list[Entry] = field(default_factory=list)


@dataclass(slots=True)
class _Selector:
    unkeyed: list[Entry]
    keyed: list[_Keyed]


class TriggerIndex:
    def __init__(self) -> None:
        self._by_type: dict[str, dict[str, Entry]] = {}
        self._type_of: dict[str, str] = {}
        self._tests: dict[str, tuple[expr.EqualityTest, ...]] = {}
        self._selectors: dict[str, _Selector] = {}
        self._order = itertools.count()
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
            for _, compiled in group.values():
                yield compiled

    def put_trigger(self, trigger: Trigger) -> CompiledTrigger:
        """Add or replace a trigger; raises InvalidTrigger if it does not compile."""
        compiled = compile_trigger(trigger)
        self.remove_trigger(trigger.id)
        self._by_type.setdefault(trigger.event, {})[trigger.id] = (next(self._order), compiled)
        self._type_of[trigger.id] = trigger.event
        self._tests[trigger.id] = expr.leading_equalities(trigger.filter) if trigger.filter else ()
        self._selectors.pop(trigger.event, None)
        if compiled.uses_link:
            self._linking.add(trigger.id)
        return compiled

    def remove_trigger(self, trigger_id: str) -> None:
        event = self._type_of.pop(trigger_id, None)
        self._linking.discard(trigger_id)
        self._tests.pop(trigger_id, None)
        if event is not None:
            self._selectors.pop(event, None)
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
        return self._eligible([c for _, c in group.values()], version)

    def select(self, event_type: str, version: str, payload: Any) -> list[CompiledTrigger]:
        """`candidates` minus the triggers the equality index rules out for this
        payload (the envelope's: only its dicts, lists and strings are read)."""
        if event_type not in self._by_type:
            return []
        selector = self._selectors.get(event_type) or self._build(event_type)
        picked = list(selector.unkeyed)
        values: dict[Any, Any] = {}
        for keyed in selector.keyed:
            if not all(self._safe(values, payload, test) for test in keyed.guards):
                picked += keyed.every
                continue
            value = self._resolve(values, payload, keyed.path)
            if value is expr.UNKNOWN:
                picked += keyed.every
            elif type(value) is str:
                picked += keyed.by_value.get(value, ())
        picked.sort(key=lambda entry: entry[0])
        return self._eligible([c for _, c in picked], version)

    @classmethod
    def _safe(cls, values: dict[Any, Any], payload: Any, test: expr.EqualityTest) -> bool:
        value = cls._resolve(values, payload, test.path)
        return value is not expr.UNKNOWN and test.safe(value)

    @staticmethod
    def _resolve(values: dict[Any, Any], payload: Any, path: Any) -> Any:
        value = values.get(path, values)  # the dict itself: not looked up yet
        if value is values:
            value = values[path] = expr.value_at(payload, path)
        return value

    def _eligible(self, found: list[CompiledTrigger], version: str) -> list[CompiledTrigger]:
        live = self._live_workflows
        return [
            c
            for c in found
            if (c.trigger.version is None or c.trigger.version == version)
            and c.trigger.workflow_id in live
        ]

    def _build(self, event_type: str) -> _Selector:
        group = self._by_type[event_type]
        shared = Counter(t for tid in group for t in self._tests[tid] if t.op == "==")
        unkeyed: list[Entry] = []
        keyed: dict[tuple[Any, Any], _Keyed] = {}
        for tid, entry in group.items():
            tests = self._tests[tid]
            keys = [i for i, t in enumerate(tests) if t.op == "=="]
            if not keys:
                unkeyed.append(entry)
                continue
            # The rarest equality test rules out the most events for this trigger.
            at = min(keys, key=lambda i: shared[tests[i]])
            guards = tests[:at]
            slot = keyed.get((tests[at].path, guards))
            if slot is None:
                slot = keyed[(tests[at].path, guards)] = _Keyed(tests[at].path, guards)
            slot.by_value.setdefault(tests[at].value, []).append(entry)
            slot.every.append(entry)
        selector = _Selector(unkeyed, list(keyed.values()))
        self._selectors[event_type] = selector
        return selector
