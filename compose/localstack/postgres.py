"""A real, throwaway PostgreSQL cluster from the installed server binaries.

`initdb` + `postgres` from Debian's packages (installed by `make bootstrap`
when missing), on 127.0.0.1 and a free port, with a Unix socket in the data
directory so nothing touches the system's own clusters.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import stat
from pathlib import Path

from compose.localstack._process import (
    LocalStackError,
    free_port,
    port_open,
    run,
    spawn,
    wait_until,
)
from compose.localstack._server import LocalServer

_DB = "orchestration"


def find_bindir() -> Path:
    """The directory holding initdb/postgres (PATH, then Debian's layout)."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise LocalStackError(
        "PostgreSQL server binaries (initdb) not found; run `make bootstrap` "
        "(apt-get install postgresql) or set ORCHESTRATION_DATABASE_URL"
    )


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root; run it as `postgres` (or `nobody`) then."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise LocalStackError("running as root and no 'postgres' user exists to run the server")


class PostgresCluster(LocalServer):
    """initdb, start and stop one throwaway cluster in `workdir`."""

    # SIGTERM is PostgreSQL's "smart" shutdown, which waits for clients;
    # SIGINT is "fast": disconnect everyone and stop cleanly.
    stop_signal = signal.SIGINT

    def __init__(self, workdir: Path | None = None, *, port: int | None = None) -> None:
        super().__init__(workdir, prefix="orchestration-pg-", log_name="postgres.log")
        self.port = port or free_port()
        self.data = self.workdir / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{_DB}"

    def start(self, *, timeout: float = 60) -> str:
        bindir = find_bindir()
        user = _server_user()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            ids = pwd.getpwnam(user)
            os.chown(self.workdir, ids.pw_uid, ids.pw_gid)
            self.log.touch()
            os.chown(self.log, ids.pw_uid, ids.pw_gid)
        if user is not None and self.kept:
            _check_reachable(self.workdir, user)
        fresh = not (self.data / "PG_VERSION").exists()  # else: a kept cluster, resume it
        if fresh:
            self._initdb(bindir, user)
        # Throwaway data: durability buys nothing and costs test time. Kept
        # data is written safely: it is meant to survive a crash of the machine.
        unsafe = ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        self._mark_log()
        self._proc = spawn(
            [
                str(bindir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.workdir),
                "-c",
                "listen_addresses=127.0.0.1",
                *(arg for setting in ([] if self.kept else unsafe) for arg in ("-c", setting)),
                "-c",
                "max_connections=200",
            ],
            log=self.log,
            user=user,
        )
        wait_until(
            lambda: (
                port_open(self.port) and "ready to accept connections" in self.log_since_start()
            ),
            proc=self._proc,
            timeout=timeout,
            what="PostgreSQL",
            log=self.log,
        )
        try:
            self._createdb(bindir, user)
        except LocalStackError as exc:
            # A kept cluster has its database, unless a first run died before createdb.
            if fresh or "already exists" not in str(exc):
                raise
        return self.url

    def _initdb(self, bindir: Path, user: str | None) -> None:
        run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",  # loopback only, throwaway cluster
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            what="initdb",
            user=user,
        )

    def _createdb(self, bindir: Path, user: str | None) -> None:
        run(
            [
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                _DB,
            ],
            what="createdb",
            user=user,
        )


def _check_reachable(workdir: Path, user: str) -> None:
    """A kept cluster lives in a directory of the user's choice; the server user
    must be able to walk down to it, or initdb fails with a puzzling message."""
    uid = pwd.getpwnam(user).pw_uid
    for parent in workdir.resolve().parents:
        mode = parent.stat()
        if mode.st_uid != uid and not mode.st_mode & stat.S_IXOTH:
            raise LocalStackError(
                f"PostgreSQL runs as {user!r}, which cannot enter {parent} "
                f"(mode {stat.filemode(mode.st_mode)}); keep the state somewhere it can reach"
            )
