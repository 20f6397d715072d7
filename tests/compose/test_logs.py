"""Error logs are plain, bounded and rate-limited (a traceback with locals
once froze the API for ten minutes and carried request data into the log)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import pytest

from compose.logs import ErrorRateLimit, ForeignErrorLimit

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


_FOREIGN = """
import logging
from compose.logs import configure_logging
configure_logging()
kafka = logging.getLogger("aiokafka.client")
for attempt in range(50):
    # What aiokafka logs on every reconnect while the broker is down.
    kafka.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
print("survived", flush=True)
"""


def test_a_library_repeating_an_error_is_limited_and_never_gets_an_exception() -> None:
    env = {**os.environ, "ORCHESTRATION_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-c", _FOREIGN], env=env, capture_output=True, text=True, timeout=60
    )
    # DropEvent (a BaseException) once escaped logger.error() into aiokafka.
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "survived\n"
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == [
        "Unable connect to node with id 1: Connect call failed"
    ] * 5


def test_the_foreign_limit_counts_what_it_suppressed() -> None:
    limit = ForeignErrorLimit(ErrorRateLimit(limit=2, window_s=0.2))

    def record(n: int) -> logging.LogRecord:
        return logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "down: %s", (n,), None)

    kept = [limit.filter(record(n)) for n in range(5)]
    assert kept == [True, True, False, False, False]
    assert limit.filter(logging.LogRecord("x", logging.WARNING, "", 1, "down: %s", (0,), None))
    time.sleep(0.25)
    after = record(5)
    assert limit.filter(after)
    assert getattr(after, "orchestration_suppressed", None) == 3
