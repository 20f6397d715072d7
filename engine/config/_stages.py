"""The small stages: ``delay``, ``wait_event``, ``update`` and ``noop`` (BEHAVIOUR.md 5.5-5.8)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

from engine.config._dates import format_date
from engine.config._durations import MICROSECOND, format_duration
from engine.config._schema import Reader, Violation, exactly_one_of, required
from engine.config._stage import Model, ResolvedStage


class Delay(ResolvedStage):
    """Sleep for ``duration_ns`` nanoseconds, or until ``until``; exactly one is set.

    A duration mentioned but empty after interpolation is 0 (no wait), as
    upstream; an empty ``until`` is absent (project CHOICE, see ``Reader.date``).
    Whether ``until`` lies in the past is decided by the engine at run time
    (``negative duration provided <d>``), not here.
    """

    stage_name: ClassVar[str] = "delay"
    history_name: ClassVar[str] = "RunDelay"
    go_name: ClassVar[str] = "Delay"

    duration_ns: int | None = None
    until: datetime | None = None

    @classmethod
    def read(cls, body: Reader) -> Self:
        return cls(
            duration_ns=body.duration("duration", "Duration"),
            until=body.date("until", "Until"),
        )

    @property
    def duration(self) -> timedelta | None:
        """``duration_ns`` as a ``timedelta`` (truncated to microseconds)."""
        if self.duration_ns is None:
            return None
        magnitude = abs(self.duration_ns) // MICROSECOND  # exact, toward zero
        return timedelta(microseconds=-magnitude if self.duration_ns < 0 else magnitude)

    def violations(self) -> list[Violation]:
        return exactly_one_of(
            self.go_name,
            "",
            {"duration": self.duration_ns is not None, "until": self.until is not None},
        )

    def history_input(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {}
        if self.duration_ns is not None:
            rendered["duration"] = format_duration(self.duration_ns)
        if self.until is not None:
            rendered["until"] = format_date(self.until)
        return rendered


class WaitEvent(ResolvedStage):
    """Wait until an event named exactly ``event`` is posted to the instance."""

    stage_name: ClassVar[str] = "wait_event"
    history_name: ClassVar[str] = "RunWaitEvent"
    go_name: ClassVar[str] = "WaitEvent"

    event: str

    @classmethod
    def read(cls, body: Reader) -> Self:
        return cls(event=body.string("event", "Event"))

    def violations(self) -> list[Violation]:
        return required(self.go_name, "", "event", "Event", bool(self.event))

    def history_input(self) -> dict[str, Any]:
        return {"event": self.event}


class UpdateAccount(Model):
    """Metadata to set on a ledger account; the ledger defaults to ``main`` (not ``default``)."""

    id: str
    ledger: str = "main"
    metadata: dict[str, str] | None = None  # required: {} is fine, absent is not

    @classmethod
    def read(cls, body: Reader) -> Self:
        return cls(
            id=body.string("id", "ID"),
            ledger=body.string("ledger", "Ledger", "main"),
            metadata=body.string_map("metadata", "Metadata"),
        )

    def violations(self, namespace: str, prefix: str) -> list[Violation]:
        return [
            *required(namespace, prefix, "id", "ID", bool(self.id)),
            *required(namespace, prefix, "ledger", "Ledger", bool(self.ledger)),
            *required(namespace, prefix, "metadata", "Metadata", self.metadata is not None),
        ]

    def history_input(self) -> dict[str, Any]:
        return {"id": self.id, "ledger": self.ledger, "metadata": dict(self.metadata or {})}


class Update(ResolvedStage):
    """Set metadata on a ledger account (its only alternative, ``account``, is required)."""

    stage_name: ClassVar[str] = "update"
    history_name: ClassVar[str] = "RunUpdate"
    go_name: ClassVar[str] = "Update"

    account: UpdateAccount | None = None

    @classmethod
    def read(cls, body: Reader) -> Self:
        account = body.child("account", "Account")
        return cls(account=UpdateAccount.read(account) if account is not None else None)

    def violations(self) -> list[Violation]:
        found = exactly_one_of(self.go_name, "", {"account": self.account is not None})
        if self.account is not None:
            found += self.account.violations(f"{self.go_name}.Account", "account")
        return found

    def history_input(self) -> dict[str, Any]:
        return {"account": self.account.history_input()} if self.account is not None else {}


class Noop(ResolvedStage):
    """Does nothing; its body is ignored."""

    stage_name: ClassVar[str] = "noop"
    history_name: ClassVar[str] = "RunNoop"
    go_name: ClassVar[str] = "Noop"

    @classmethod
    def read(cls, body: Reader) -> Self:
        return cls()

    def violations(self) -> list[Violation]:
        return []

    def history_input(self) -> dict[str, Any]:
        return {}
