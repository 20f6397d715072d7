import os
import subprocess
import sys

import pytest

from compose.cli import _parse_events
from compose.localstack import free_port

pytestmark = pytest.mark.unit


def test_publish_reads_one_json_document_or_json_lines() -> None:
    assert _parse_events('{"type": "A",\n "payload": {}}') == [{"type": "A", "payload": {}}]
    assert _parse_events('{"type": "A"}\n\n{"type": "B"}\n') == [{"type": "A"}, {"type": "B"}]
    with pytest.raises(ValueError, match="line 2"):
        _parse_events('{"type": "A"}\nnot json\n')
    with pytest.raises(ValueError, match="no event"):
        _parse_events("  \n")


@pytest.mark.integration
def test_the_worker_says_what_is_unreachable_and_exits_non_zero() -> None:
    env = {**os.environ, "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    result = subprocess.run(
        [sys.executable, "-m", "compose", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "cannot start the worker" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_help_say_what_configures_the_processes() -> None:
    from importlib.metadata import version

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "compose", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        return done.stdout

    assert run("--version").strip() == f"orchestration {version('orchestration')}"
    for command in ("api", "worker", "migrate"):
        assert "ORCHESTRATION_" in run(command, "--help"), command
