"""What every local server shares: a work directory, a child process, a log."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from compose.localstack._process import tail, terminate


class LocalServer:
    """Base of the local Kafka broker and PostgreSQL cluster.

    Without a `workdir` the server gets a fresh one under the system temp dir
    (the server may run as another user, which cannot enter pytest's or a
    checkout's private directories), removed again on stop. A given
    `workdir` is kept, data and log, and a later start resumes it.
    """

    #: The signal that asks this server for a clean, prompt shutdown.
    stop_signal: int = signal.SIGTERM

    def __init__(self, workdir: Path | None, *, prefix: str, log_name: str) -> None:
        self._owned = workdir is None
        self.workdir: Path = workdir or Path(tempfile.mkdtemp(prefix=prefix))
        self.log = self.workdir / log_name
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def kept(self) -> bool:
        """Whether the data outlives `stop()` (a `workdir` was given)."""
        return not self._owned

    def _mark_log(self) -> None:
        """Remember where this start's lines begin: a kept log holds the
        previous runs' "started" lines too, which must not pass for this one's."""
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0

    def log_since_start(self) -> str:
        """What the server wrote to its log since the last `start()`."""
        try:
            with self.log.open("rb") as f:
                f.seek(self._log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> str:
        raise NotImplementedError

    def halt(self) -> None:
        """Stop the server and keep its work dir and ports: `start()` resumes
        it with its data, on the same port (what an outage looks like)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(self.stop_signal)
        terminate(self._proc, grace=30)
        self._proc = None

    def stop(self) -> None:
        self.halt()
        if self._owned:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self) -> str:
        return tail(self.log)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
