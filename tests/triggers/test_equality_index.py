"""The equality index of `TriggerIndex.select`: it must only ever skip triggers
whose filter full evaluation finds false without an error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.matching import MatchResult, match_record
from streams import codec
from tests.builders import make_index, make_trigger
from triggers import TriggerIndex
from triggers.expr import UNKNOWN, EqualityTest, leading_equalities, value_at

pytestmark = pytest.mark.unit

NOW = dt.datetime(2025, 3, 4, 9, 0, tzinfo=dt.UTC)


def test_leading_equalities_are_the_run_of_path_equals_string_tests() -> None:
    source = (
        'event.ledger == "main" && "x" == event.a[0]["b"] && event.n > 1'
        ' && event.s in ["p", "q"] && event.c == "y" && event.n * 2 > 1 && event.d == "z"'
    )
    assert leading_equalities(source) == (
        EqualityTest(("ledger",), "main"),
        EqualityTest(("a", 0, "b"), "x"),
        EqualityTest(("n",), 1, ">"),
        EqualityTest(("s",), frozenset({"p", "q"}), "in"),
        EqualityTest(("c",), "y"),
    )


@pytest.mark.parametrize(
    "source",
    [
        'event.n + 1 > 1 && event.ledger == "main"',
        '1 < event.n && event.ledger == "main"',
        'event.ledger == "main" || event.a == "b"',
        'event?.ledger == "main"',
        "event.ledger == 1",
        'event.ledger != "main"',
        'let event = {"ledger": "main"}; event.ledger == "main"',
        'other.ledger == "main"',
        'event.a[-1] == "x"',
        "not parseable ==",
    ],
)
def test_other_shapes_are_not_indexed(source: str) -> None:
    assert leading_equalities(source) == ()


def test_value_at_is_unknown_off_the_fast_path() -> None:
    doc = {"a": [{"b": "x"}], "s": "text", "n": None}
    assert value_at(doc, ("a", 0, "b")) == "x"
    assert value_at(doc, ("missing",)) is None
    assert value_at(doc, ("missing", "deeper")) is UNKNOWN
    assert value_at(doc, ("a", 1)) is UNKNOWN
    assert value_at(doc, ("s", 0)) is UNKNOWN
    assert value_at(doc, ("a", "b")) is UNKNOWN


def ids(index: TriggerIndex, payload: Any) -> list[str]:
    return [c.trigger.id for c in index.select("COMMITTED_TRANSACTIONS", "v2", payload)]


def test_select_skips_triggers_whose_key_differs_and_keeps_definition_order() -> None:
    index = make_index(
        make_trigger(id="main", filter='event.ledger == "main" && event.n > 1'),
        make_trigger(id="free", filter="event.n > 1"),
        make_trigger(id="other", filter='event.ledger == "other"'),
        make_trigger(id="none"),
    )
    assert ids(index, {"ledger": "main"}) == ["main", "free", "none"]
    assert ids(index, {"ledger": "other"}) == ["free", "other", "none"]
    assert ids(index, {"ledger": 3}) == ["free", "none"]


def test_the_rarest_test_is_the_key_and_earlier_tests_must_resolve() -> None:
    index = make_index(
        *(
            make_trigger(id=f"t{n}", filter=f'event.ledger == "main" && event.m.c == "c{n}"')
            for n in range(3)
        )
    )
    assert ids(index, {"ledger": "main", "m": {"c": "c1"}}) == ["t1"]
    assert ids(index, {"ledger": "main", "m": {"c": "c9"}}) == []
    # A path the fast path cannot resolve (full evaluation may raise there): keep all.
    assert ids(index, [1]) == ["t0", "t1", "t2"]
    assert ids(index, {"ledger": "main", "m": "flat"}) == ["t0", "t1", "t2"]


def test_a_guard_before_the_key_must_be_safe_for_the_event() -> None:
    index = make_index(
        make_trigger(id="t", filter='event.n > 100 && event.c == "c1"'),
        make_trigger(id="u", filter='event.c == "c2"'),
    )
    assert ids(index, {"n": 5, "c": "c9"}) == []
    # `"5" > 100` raises: the filter error must still be reported, so evaluate it.
    assert ids(index, {"n": "5", "c": "c9"}) == ["t"]
    assert ids(index, {"c": "c9"}) == ["t"]  # nil > 100 raises too


def test_replacing_and_removing_triggers_rebuilds_the_selection() -> None:
    index = make_index(make_trigger(id="a", filter='event.ledger == "x"'))
    assert ids(index, {"ledger": "x"}) == ["a"]
    index.put_trigger(make_trigger(id="a", filter='event.ledger == "y"'))
    assert ids(index, {"ledger": "x"}) == []
    index.remove_trigger("a")
    assert ids(index, {"ledger": "y"}) == []


class FullIndex(TriggerIndex):
    """Every candidate of the type: what matching did before the equality index."""

    def select(self, event_type: str, version: str, payload: Any) -> list[Any]:
        return self.candidates(event_type, version)


STRINGS = st.sampled_from(["main", "x", "", "c1", "MAIN"])
KEYS = st.sampled_from(["ledger", "a", "b", "m", "c"])
SCALARS = st.one_of(
    STRINGS, st.none(), st.booleans(), st.integers(-5, 5), st.just(2**70), st.floats(0, 3)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
PATHS = st.sampled_from(
    ["event.ledger", "event.a.b", "event.a[0]", "event.m.c", 'event.m["c"]', "event.a[1].c"]
)


@st.composite
def atoms(draw: st.DrawFn) -> str:
    path, const = draw(PATHS), draw(STRINGS)
    return draw(
        st.sampled_from(
            [
                f'{path} == "{const}"',
                f'"{const}" == {path}',
                f"{path} > 1",
                f'{path} in ["main", "x"]',
                f'{path} != "{const}"',
                f'{path} startsWith "m"',
                f'{path}?.c == "{const}"',
                "true",
            ]
        )
    )


FILTERS = st.lists(atoms(), min_size=1, max_size=3).map(" && ".join)


def summary(result: MatchResult) -> tuple[Any, ...]:
    return (
        result.matched,
        [(f.trigger.trigger.id, f.error) for f in result.filter_errors],
        [o.value for o in result.outputs],
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    filters=st.lists(FILTERS, min_size=1, max_size=8),
    payload=st.one_of(JSON, st.dictionaries(KEYS, JSON, max_size=5)),
)
def test_indexed_selection_matches_full_evaluation(filters: list[str], payload: Any) -> None:
    triggers = [make_trigger(id=f"t{n}", filter=f) for n, f in enumerate(filters)]
    indexed, full = make_index(*triggers), FullIndex()
    full.put_workflow("w1", deleted=False)
    for trigger in triggers:
        full.put_trigger(trigger)
    raw = codec.dumps(
        {
            "type": "COMMITTED_TRANSACTIONS",
            "version": "v2",
            "idempotency_key": "k",
            "payload": payload,
        }
    )
    results = [
        match_record(raw, None, index, coordinates="t/0/0", max_bytes=1 << 20, now=NOW)
        for index in (indexed, full)
    ]
    assert summary(results[0]) == summary(results[1])
