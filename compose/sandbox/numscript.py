"""The one Numscript program the sandbox runs: a single ``send`` (BEHAVIOUR 6.3).

The engine posts an overdraft as this template instead of postings::

    send [EUR/2 1500] (
      source = @users:042 allowing unbounded overdraft
      destination = @liabilities:payouts-pending
    )

The comparison is by tokens, so whitespace does not matter. Also accepted:
``allowing overdraft up to [EUR/2 100]`` (bounded), no ``allowing`` clause
(no overdraft), and ``$variables`` declared in a ``vars { ... }`` block whose
values come from the request's ``script.vars`` as the ledger v2 API sends
them (strings: ``"users:042"``, ``"EUR/2 1500"``, ``"EUR/2"``, ``"1500"``).
Anything else is refused ``COMPILATION_FAILED`` (400), the ledger's code for
a script it cannot compile: the sandbox has no interpreter. Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compose.sandbox.ledger_rules import SandboxError, valid_address, valid_asset

_TOKEN = re.compile(r"\s*(?:([\[\](){}=])|([@$]?[A-Za-z0-9_:/*.-]+))")
_TYPES = ("account", "monetary", "asset", "number")
_NUMBER = re.compile(r"^[0-9]+$")


@dataclass(frozen=True, slots=True)
class Send:
    """One compiled ``send``: ``limit`` is how far below zero the source may
    go (0: not at all; None: unbounded)."""

    asset: str
    amount: int
    source: str
    destination: str
    limit: int | None

    def posting(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "asset": self.asset,
            "amount": self.amount,
        }


def refuse(message: str) -> SandboxError:
    return SandboxError(400, "COMPILATION_FAILED", f"sandbox: {message}")


def tokens(plain: str) -> list[str]:
    out: list[str] = []
    at = 0
    plain = plain.rstrip()
    while at < len(plain):
        match = _TOKEN.match(plain, at)
        if match is None or match.end() == at:
            raise refuse(f"unexpected character at offset {at}")
        out.append(match.group(1) or match.group(2))
        at = match.end()
    return out


def compile_script(script: Any) -> Send:
    """The ``send`` of ``{"plain": ..., "vars": {...}}``; COMPILATION_FAILED otherwise."""
    if not isinstance(script, dict) or not isinstance(script.get("plain"), str):
        raise SandboxError(400, "VALIDATION", "script must be an object with a plain text")
    given = script.get("vars") or {}
    if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
        raise SandboxError(400, "VALIDATION", "script vars must be an object of strings")
    return _Parser(tokens(script["plain"]), given).program()


class _Parser:
    def __init__(self, toks: list[str], given: Mapping[str, str]) -> None:
        self._toks = toks
        self._at = 0
        self._given = given
        self._declared: dict[str, str] = {}

    def program(self) -> Send:
        if self._peek() == "vars":
            self._vars()
        self._expect("send")
        asset, amount = self._monetary()
        self._expect("(")
        self._expect("source")
        self._expect("=")
        source = self._account()
        limit: int | None = 0
        if self._peek() == "allowing":
            self._next()
            if self._peek() == "unbounded":
                self._next()
                self._expect("overdraft")
                limit = None
            else:
                self._expect("overdraft")
                self._expect("up")
                self._expect("to")
                bound_asset, limit = self._monetary()
                if bound_asset != asset:
                    raise refuse(f"overdraft bound in {bound_asset}, sent {asset}")
        self._expect("destination")
        self._expect("=")
        destination = self._account()
        self._expect(")")
        if self._peek() is not None:
            raise refuse(f"only one send is supported, found {self._peek()!r}")
        return Send(asset, amount, source, destination, limit)

    def _vars(self) -> None:
        self._next()
        self._expect("{")
        while self._peek() != "}":
            kind = self._next()
            name = self._next()
            if kind not in _TYPES or not name.startswith("$"):
                raise refuse(f"unsupported variable declaration {kind} {name}")
            self._declared[name[1:]] = kind
        self._next()

    def _monetary(self) -> tuple[str, int]:
        if self._peek() != "[":
            money = self._var(self._next(), "monetary")
            asset, _, amount = money.partition(" ")
            return _asset(asset.strip()), _number(amount.strip())
        self._next()
        first = self._next()
        asset = self._var(first, "asset") if first.startswith("$") else first
        second = self._next()
        amount = self._var(second, "number") if second.startswith("$") else second
        self._expect("]")
        return _asset(asset), _number(amount)

    def _account(self) -> str:
        tok = self._next()
        given = tok[1:] if tok.startswith("@") else self._var(tok, "account")
        address = given.removeprefix("@")
        if not valid_address(address):
            raise refuse(f"invalid account address {address!r}")
        return address

    def _var(self, tok: str, kind: str) -> str:
        if not tok.startswith("$"):
            raise refuse(f"expected {kind}, found {tok!r}")
        name = tok[1:]
        if self._declared.get(name) != kind:
            raise refuse(f"variable ${name} is not declared as {kind}")
        value = self._given.get(name)
        if value is None:
            raise refuse(f"missing value for variable ${name}")
        return value

    def _peek(self) -> str | None:
        return self._toks[self._at] if self._at < len(self._toks) else None

    def _next(self) -> str:
        tok = self._peek()
        if tok is None:
            raise refuse("unexpected end of script")
        self._at += 1
        return tok

    def _expect(self, word: str) -> None:
        tok = self._next()
        if tok != word:
            raise refuse(f"expected {word!r}, found {tok!r}")


def _number(text: str) -> int:
    # Exact at any size: digits straight to int, never through a float.
    if not _NUMBER.match(text):
        raise refuse(f"invalid amount {text!r}")
    return int(text)


def _asset(text: str) -> str:
    if not valid_asset(text):
        raise refuse(f"invalid asset {text!r}")
    return text
