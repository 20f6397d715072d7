"""What route handlers share: the database, topics, the outbox relay, auth."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import Authenticator
from api.outbox import OutboxRelay
from api.replays import Replays
from api.settings import ApiSettings
from streams import KafkaSettings, Topics
from triggers import expr


@dataclass(slots=True)
class Services:
    settings: ApiSettings
    db: AsyncEngine
    topics: Topics
    relay: OutboxRelay | None
    auth: Authenticator | None = None
    # Serves link() in the trigger test endpoint; None: link() reports an error.
    fetch: expr.Fetch | None = None
    # Reads run in autocommit: no BEGIN/ROLLBACK round trips around a
    # single SELECT (each is a statement of its own anyway).
    reader: AsyncEngine = field(init=False)
    # Set when the server begins shutting down: long polls (`wait=true`)
    # answer with what they have instead of holding the drain.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Trigger replays (an extension) read the inbound topics with these settings.
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    replays: Replays = field(default_factory=Replays)

    def __post_init__(self) -> None:
        self.reader = self.db.execution_options(isolation_level="AUTOCOMMIT")

    def published(self) -> None:
        """A transaction that wrote outbox rows committed: relay them now."""
        if self.relay is not None:
            self.relay.notify()


def services_of(request: Request) -> Services:
    """Handlers take the request and call this rather than declaring a FastAPI
    dependency: dependency resolution costs ~0.2 ms a request (measured)."""
    services: Services = request.app.state.services
    return services
