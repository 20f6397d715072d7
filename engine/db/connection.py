"""The async SQLAlchemy engine factory (psycopg 3 underneath)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from engine.settings import DatabaseSettings


def create_db_engine(settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        settings.sqlalchemy_url(),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        # A connection dropped by a database restart is replaced, not reused.
        pool_pre_ping=True,
        # Statements are parameterised by SQLAlchemy; never log their values.
        hide_parameters=True,
    )
