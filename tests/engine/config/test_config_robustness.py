"""Any decoded JSON either parses or raises a ``ConfigError``; resolved models round-trip."""

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import (
    ConfigError,
    ResolvedStage,
    StageError,
    parse_workflow,
    resolve_stage,
)

pytestmark = pytest.mark.unit

# Keys the schemas read, so generated bodies reach deep into them.
_KEYS = [
    "source", "destination", "amount", "metadata", "timestamp", "wallet", "account",
    "payment", "id", "name", "balance", "ledger", "throughAccount", "allowOverdraft",
    "holdingAccount", "psp", "type", "sourceAccount", "waitingValidation", "connectorId",
    "asset", "duration", "until", "event", "other",
]  # fmt: skip
_STRINGS = st.sampled_from(
    ["", "${v}", "${missing}", "abc", "5s", "1.5h", "true", "FALSE", "42", "-7",
     "2025-03-04T12:00:00Z", "x${v}y", "\u00b5s"]
)  # fmt: skip
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _STRINGS
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(_KEYS), children, max_size=5)
    ),
    max_leaves=20,
)
_STAGE = st.dictionaries(
    st.sampled_from(["send", "delay", "wait_event", "update", "noop", "bogus"]),
    _JSON,
    min_size=0,
    max_size=2,
)
_VARIABLES = st.dictionaries(st.sampled_from(["v", "w"]), _STRINGS, max_size=2)


@settings(database=None, max_examples=300)
@given(st.lists(_STAGE | _JSON, max_size=3), st.one_of(st.none(), _SCALARS))
def test_parse_workflow_raises_only_config_errors(stages: list[Any], name: Any) -> None:
    with contextlib.suppress(ConfigError):
        parse_workflow({"name": name, "stages": stages})


@settings(database=None, max_examples=300)
@given(_STAGE, _VARIABLES)
def test_resolve_stage_raises_only_stage_errors(stage: Any, variables: dict[str, str]) -> None:
    try:
        resolved = resolve_stage(stage, variables)
    except StageError:
        return
    assert isinstance(resolved, ResolvedStage)
    resolved.history_input()


@settings(database=None, max_examples=300)
@given(st.lists(_STAGE, min_size=1, max_size=3), _VARIABLES)
def test_stages_valid_at_creation_only_fail_at_run_time_with_stage_errors(
    stages: list[Any], variables: dict[str, str]
) -> None:
    # Whatever the input, the only outcomes are a ConfigError at creation, a
    # StageError at run time, or a resolved stage: never another exception.
    errors: list[str] = []
    try:
        workflow = parse_workflow({"stages": stages})
    except ConfigError as exc:
        errors.append(str(exc))
        workflow = None
    for spec in workflow.stages if workflow else ():
        try:
            stage = resolve_stage(spec, variables)
        except StageError as exc:
            errors.append(str(exc))
        else:
            assert isinstance(stage.history_input(), dict)
    assert all(errors), "every refusal says why"


@pytest.mark.parametrize(
    "stage",
    [
        {
            "send": {
                "source": {"payment": {"id": "p", "allowOverdraft": True}},
                "destination": {"payment": {"psp": "x", "sourceAccount": ""}},
                "amount": {"amount": "123456789012345678901234567890", "asset": "EUR/2"},
                "metadata": {"k": "v"},
                "timestamp": "2025-03-04T10:15:30.5+01:00",
            }
        },
        {"delay": {"duration": "1h2m3.000000004s"}},
        {"delay": {"until": "2025-03-04T12:00:00Z"}},
        {"wait_event": {"event": "go"}},
        {"update": {"account": {"id": "a", "metadata": {}}}},
        {"noop": {}},
    ],
)
def test_models_round_trip_through_json(stage: dict[str, Any]) -> None:
    # The engine may persist resolved stages; a dump must load back equal.
    resolved = resolve_stage(stage, {})
    restored = type(resolved).model_validate_json(resolved.model_dump_json())
    assert restored == resolved
    assert restored.history_input() == resolved.history_input()
