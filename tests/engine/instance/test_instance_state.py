"""`InstanceState.evolve`: the machine's copy-with-changes, equal to `dataclasses.replace`."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.instance import InstanceState

pytestmark = pytest.mark.unit

BASE = InstanceState(
    instance_id="i-1",
    workflow_id="w-1",
    stack="default",
    run_id="r-1",
    stages=({"delay": {"duration": "1h"}},),
    variables={"amount": "100"},
    max_attempts=3,
)
FIELDS = [f.name for f in dataclasses.fields(InstanceState)]
# Any value will do: the copy must carry whatever a field holds.
VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.tuples(st.integers()))


# Fixed examples, no deadline: the first one pays for imports on a busy CI box.
@settings(derandomize=True, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8))
def test_evolve_equals_replace_and_leaves_the_original_alone(changes: dict[str, Any]) -> None:
    before = dataclasses.astuple(BASE)
    evolved = BASE.evolve(**changes)
    assert evolved == dataclasses.replace(BASE, **changes)
    for name in FIELDS:
        assert getattr(evolved, name) == changes.get(name, getattr(BASE, name))
    assert dataclasses.astuple(BASE) == before


def test_evolve_refuses_an_unknown_field() -> None:
    with pytest.raises(AttributeError):
        BASE.evolve(stage_count=2)


def test_an_evolved_state_is_still_frozen() -> None:
    evolved = BASE.evolve(stage=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        evolved.stage = 2  # type: ignore[misc]
    assert evolved.stage == 1
