"""What route handlers share: the database, topics and the outbox relay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from api.outbox import OutboxRelay
from api.settings import ApiSettings
from streams import Topics


@dataclass(slots=True)
class Services:
    settings: ApiSettings
    db: AsyncEngine
    topics: Topics
    relay: OutboxRelay | None


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
