"""The compose file cannot run here (no Docker engine); check what can be checked."""

from pathlib import Path

import pytest
import yaml

from api import ApiSettings
from engine.settings import DatabaseSettings
from streams import KafkaSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def load() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((ROOT / "compose/docker-compose.yml").read_text())
    return data


def test_the_stack_has_every_process() -> None:
    services = load()["services"]
    assert isinstance(services, dict)
    assert {"kafka", "postgres", "migrate", "worker", "api"} <= set(services)
    assert services["worker"]["command"] == ["worker"]
    assert services["api"]["command"] == ["api"]


def test_every_orchestration_variable_is_a_real_setting() -> None:
    known = {
        f"ORCHESTRATION_{name.upper()}"
        for model in (ApiSettings, DatabaseSettings, KafkaSettings)
        for name in model.model_fields
    } | {"ORCHESTRATION_LOG_FORMAT"}
    for name in ("migrate", "worker", "api"):
        env = load()["services"][name]["environment"]  # type: ignore[index]
        assert set(env) <= known, set(env) - known
        assert "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS" in env or name == "migrate"


def test_the_image_builds_from_the_repository_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("streams", "triggers", "engine", "api", "compose"):
        assert f"COPY {package} ./{package}" in dockerfile
