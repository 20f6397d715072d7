"""Error logs are plain, bounded and rate-limited (a traceback with locals
once froze the API for ten minutes and carried request data into the log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

_SCRIPT = """
import structlog
from compose.logs import configure_logging
configure_logging()
log = structlog.get_logger("t")

def fail(secret_body):
    raise ValueError("x" * 100_000)

for _ in range(50):
    try:
        fail("SECRET-TOKEN-123")
    except ValueError:
        log.exception("request.failed")
log.info("after")
"""


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_errors_are_plain_bounded_and_rate_limited(fmt: str) -> None:
    env = {**os.environ, "ORCHESTRATION_LOG_FORMAT": fmt}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    out = proc.stderr
    assert "SECRET-TOKEN-123" not in out, "no local variables in tracebacks"
    assert "Traceback" in out
    assert "ValueError" in out
    assert "after" in out
    if fmt == "json":
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        errors = [line for line in lines if line["event"] == "request.failed"]
        assert len(errors) == 5, "50 identical errors, 5 written in the window"
        assert all(len(e["exception"]) < 17_000 for e in errors)
        assert errors[0]["exception"].endswith("chars, cut]")
    else:
        assert out.count("request.failed") == 5
        assert len(out) < 6 * 17_000


def test_migrations_do_not_print_a_line_per_alembic_plugin() -> None:
    script = (
        "import logging\n"
        "from compose.logs import configure_logging\n"
        "configure_logging()\n"
        "from alembic.runtime import plugins\n"
        "logging.getLogger('alembic.runtime.plugins').info('setup plugin x')\n"
        "logging.getLogger('alembic.runtime.migration').info('Running upgrade')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "setup plugin" not in done.stderr
    assert "Running upgrade" in done.stderr  # migrations still say what they do


def test_a_throttled_line_is_limited_per_key_at_any_level() -> None:
    script = (
        "import structlog\n"
        "from compose.logs import configure_logging\n"
        "configure_logging()\n"
        "log = structlog.get_logger('t')\n"
        "for i in range(100):\n"
        "    log.warning('trigger.filter_failed', trigger='a', throttle='a')\n"
        "    log.warning('trigger.filter_failed', trigger='b', throttle='b')\n"
        "    log.info('plain', n=i)\n"
    )
    env = {**os.environ, "ORCHESTRATION_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    failed = [line for line in lines if line["event"] == "trigger.filter_failed"]
    assert [f["trigger"] for f in failed].count("a") == 5
    assert [f["trigger"] for f in failed].count("b") == 5
    assert all("throttle" not in f for f in failed)
    assert sum(line["event"] == "plain" for line in lines) == 100  # unthrottled lines untouched
