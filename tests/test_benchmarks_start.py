"""`make bench` runs each benchmark as `python benchmarks/<name>.py`, which puts
benchmarks/ first on the import path, where `engine.py` would shadow the
`engine` package: each script must at least start (`--help` does no work)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name != "measure.py")


def test_every_benchmark_script_is_listed() -> None:
    assert {"engine.py", "expr.py", "matching.py", "pipeline.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_benchmark_starts_as_a_script(script: str) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert "usage:" in run.stdout
