"""The public surface of ``engine.config`` is pinned (STYLE.md rule 1)."""

import pytest

import engine.config

pytestmark = pytest.mark.unit


def test_export_list() -> None:
    assert sorted(engine.config.__all__) == [
        "Amount",
        "ConfigError",
        "DEFAULT_ACTIVITY_MAX_ATTEMPTS",
        "Delay",
        "LedgerAccount",
        "Noop",
        "PaymentDestination",
        "PaymentSource",
        "ResolvedStage",
        "Send",
        "SendDestination",
        "SendSource",
        "StageError",
        "StageSpec",
        "Update",
        "UpdateAccount",
        "WaitEvent",
        "Wallet",
        "Workflow",
        "WorkflowConfigError",
        "format_date",
        "format_duration",
        "interpolate",
        "parse_date",
        "parse_duration",
        "parse_workflow",
        "resolve_stage",
    ]
    for name in engine.config.__all__:
        assert hasattr(engine.config, name)


def test_errors_share_one_root() -> None:
    assert issubclass(engine.config.WorkflowConfigError, engine.config.ConfigError)
    assert issubclass(engine.config.StageError, engine.config.ConfigError)
