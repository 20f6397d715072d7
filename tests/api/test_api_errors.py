"""The error mapping: a database that cannot serve is a 503 envelope, nothing else is."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from api.errors import InternalErrors, install_error_handlers

pytestmark = pytest.mark.unit

REFUSED = sa_exc.OperationalError(
    "SELECT 1",
    None,
    psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed:'
        " Connection refused\n\tIs the server running on that host?"
    ),
)


def _app(error: BaseException) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(InternalErrors)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.get("/boom")


@pytest.mark.parametrize(
    "error",
    [
        REFUSED,
        sa_exc.InterfaceError("SELECT 1", None, psycopg.InterfaceError("connection is closed")),
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
    ],
)
async def test_an_unreachable_database_answers_503_with_the_envelope(error: Exception) -> None:
    answer = await _get(_app(error))
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json() == {
        "errorCode": "INTERNAL",
        "errorMessage": "database unavailable, retry later",
    }


async def test_a_failing_statement_stays_an_internal_500() -> None:
    broken = sa_exc.ProgrammingError("SELECT nope", None, psycopg.ProgrammingError("syntax"))
    answer = await _get(_app(broken))
    assert answer.status_code == 500
    assert answer.json() == {"errorCode": "INTERNAL", "errorMessage": "internal error"}


async def test_raised_outside_a_route_it_is_still_503() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise REFUSED

    transport = httpx.ASGITransport(app=InternalErrors(app))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        answer = await client.get("/anything")
    assert answer.status_code == 503
    assert answer.json()["errorCode"] == "INTERNAL"
