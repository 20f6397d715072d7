"""The dev stack's supervision of its worker, with a stand-in worker that
crashes at once and a clock the test moves (no Kafka, no waiting)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compose.devstack import DevStack
from compose.localstack import LocalStackError

pytestmark = pytest.mark.unit

CRASH = [sys.executable, "-c", "raise SystemExit(3)"]


def crashed(stack: DevStack) -> int:
    pid = stack.children["worker"].pid
    stack.children["worker"].wait(timeout=30)
    return pid


def pids_file(state: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (row.split("=") for row in (state / "pids").read_text().split())}


def test_a_crashing_worker_is_restarted_after_a_growing_back_off(tmp_path: Path) -> None:
    stack = DevStack(state_dir=tmp_path)
    try:
        stack.run_worker(CRASH, dict(os.environ), now=0.0)
        first = crashed(stack)
        stack.watch(now=0.5)  # seen dead after 0.5 s up: back in 1 s
        stack.watch(now=1.4)
        assert stack.children["worker"].pid == first
        stack.watch(now=1.5)
        second = stack.children["worker"].pid
        assert second != first
        assert pids_file(tmp_path) == {"worker": second}

        crashed(stack)
        stack.watch(now=1.6)  # a quick crash again: 2 s this time
        stack.watch(now=3.5)
        assert stack.children["worker"].pid == second
        stack.watch(now=3.6)
        third = stack.children["worker"].pid
        assert third not in (first, second)
        assert pids_file(tmp_path) == {"worker": third}

        crashed(stack)
        stack.watch(now=3.7)
        stack.watch(now=7.6)  # 4 s
        assert stack.children["worker"].pid == third
        stack.watch(now=7.7)
        assert stack.children["worker"].pid != third
    finally:
        stack.stop()


def test_a_dead_api_ends_the_stack_with_its_exit(tmp_path: Path) -> None:
    stack = DevStack(state_dir=tmp_path)
    try:
        stack.run_worker([sys.executable, "-c", "import time; time.sleep(60)"], dict(os.environ))
        stack.children["api"] = subprocess.Popen(CRASH)
        stack.children["api"].wait(timeout=30)
        with pytest.raises(LocalStackError, match=r"the api exited \(exit code 3\)"):
            stack.watch()
    finally:
        stack.stop()
