"""Child-process mechanics shared by the local Kafka broker and PostgreSQL.

Every server the local stack starts is a child that dies with its parent: on
Linux the child asks the kernel for SIGTERM when the parent exits
(PR_SET_PDEATHSIG), so even a `kill -9` of `orchestration dev` or of a test run
leaves no broker or database behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


class LocalStackError(RuntimeError):
    """A local server could not be installed, started or stopped."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # A terminal Ctrl-C goes to the foreground process group; the stack stops
    # its children itself, in order (API, worker, broker, database).
    os.setpgrp()


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-running child whose output goes to `log`."""
    out = log.open("ab")
    try:
        return subprocess.Popen(  # noqa: S603 - argv is built by this package
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            user=user,
            cwd=cwd,
            preexec_fn=_die_with_parent,  # needed for PDEATHSIG
        )
    finally:
        out.close()


def run(argv: Sequence[str], *, what: str, user: str | None = None, timeout: float = 300) -> str:
    """Run a short command to completion; raise with its output on failure."""
    proc = subprocess.run(  # noqa: S603 - argv is built by this package, never by users
        list(argv),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        user=user,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise LocalStackError(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def wait_until(
    ready: Callable[[], bool],
    *,
    proc: subprocess.Popen[bytes],
    timeout: float,
    what: str,
    log: Path,
) -> None:
    """Poll `ready` until true; fail fast if the child died, with its log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalStackError(f"{what} exited with {proc.returncode}:\n{tail(log)}")
        if ready():
            return
        time.sleep(0.2)
    raise LocalStackError(f"{what} not ready after {timeout:.0f}s:\n{tail(log)}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def terminate(proc: subprocess.Popen[bytes] | None, *, grace: float = 30) -> None:
    """SIGTERM, wait for a clean exit, SIGKILL after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def spawn_inherit(argv: Sequence[str], *, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a child that shares this terminal's output (the worker and the API in dev)."""
    return subprocess.Popen(  # noqa: S603 - argv is built by this package
        list(argv),
        stdin=subprocess.DEVNULL,
        env=env,
        preexec_fn=_die_with_parent,  # needed for PDEATHSIG
    )
