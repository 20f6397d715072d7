"""How commands find a running `orchestration dev`: its env file.

`orchestration dev` writes `<state dir>/env` (default `.orchestration/dev/env`
in the directory it runs in). A command run elsewhere, in a subdirectory or
another terminal's home, finds it through `ORCHESTRATION_DEV_DIR` (the state
dir), else the nearest `.orchestration/dev/env` from the working directory
upwards, the way git finds its repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

DEV_DIR_VARIABLE = "ORCHESTRATION_DEV_DIR"
DEFAULT_DEV_DIR = Path(".orchestration/dev")


class DevEnvNotFound(LookupError):
    """No env file of a running `orchestration dev` where we looked (the message says where)."""


def find_dev_env(cwd: Path, environ: Mapping[str, str]) -> Path:
    """The env file of the dev stack to talk to."""
    given = environ.get(DEV_DIR_VARIABLE)
    if given:
        env_file = (cwd / Path(given).expanduser()) / "env"
        if not env_file.is_file():
            raise DevEnvNotFound(
                f"{DEV_DIR_VARIABLE}={given} but {env_file} does not exist: is "
                f"`orchestration dev --state-dir {given}` running?"
            )
        return env_file
    for folder in (cwd, *cwd.parents):
        env_file = folder / DEFAULT_DEV_DIR / "env"
        if env_file.is_file():
            return env_file
    raise DevEnvNotFound(
        f"no running `orchestration dev` found: no {DEFAULT_DEV_DIR / 'env'} in {cwd} "
        f"or any directory above it. Start `orchestration dev`, set {DEV_DIR_VARIABLE} to "
        "its --state-dir, or set ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS."
    )


def read_dev_env(env_file: Path) -> dict[str, str]:
    """The `KEY=value` lines of an env file."""
    values = {}
    for line in env_file.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value.strip()
    return values
