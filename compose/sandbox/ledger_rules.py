"""What the sandbox ledger refuses, and how: its error and the input syntax it checks."""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"^[a-zA-Z0-9_-]+(:[a-zA-Z0-9_-]+)*$")
_ASSET = re.compile(r"^[A-Z][A-Z0-9]{0,16}(/\d{1,6})?$")


class SandboxError(Exception):
    """A refused request: ``status``, and the ledger's ``errorCode``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def valid_address(address: str) -> bool:
    return bool(_ADDRESS.match(address))


def valid_asset(asset: str) -> bool:
    return bool(_ASSET.match(asset))
