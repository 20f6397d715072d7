"""engine.config's errors (its export list is pinned in tests/test_public_surface.py)."""

import pytest

import engine.config

pytestmark = pytest.mark.unit


def test_errors_share_one_root() -> None:
    assert issubclass(engine.config.WorkflowConfigError, engine.config.ConfigError)
    assert issubclass(engine.config.StageError, engine.config.ConfigError)
