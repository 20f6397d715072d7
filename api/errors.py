"""API errors in the upstream envelope: `{"errorCode": ..., "errorMessage": ...}`.

Only this module maps failures to HTTP: the codes are the OpenAPI enum
(`VALIDATION` 400, `NOT_FOUND` 404, `INTERNAL` 500). Authentication failures
are 401 with an empty body (upstream's auth middleware). The database being
unreachable (stopped, restarting, refusing connections, the pool exhausted)
is 503 with an `INTERNAL` envelope, the only code of the enum that fits, and
`Retry-After`: a client may retry, and nothing was written. A failure nobody
anticipated is logged with its stack and answered with a bare `INTERNAL`
envelope: never a stack trace, never an empty 500.
"""

from __future__ import annotations

from enum import StrEnum

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streams import codec

log = structlog.get_logger(__name__)


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    INTERNAL = "INTERNAL"
    # Outside the OpenAPI enum: the resume endpoint (BEHAVIOUR 14.4) and the
    # replay extension (one replay at a time per trigger) answer it.
    CONFLICT = "CONFLICT"


_STATUS = {
    ErrorCode.VALIDATION: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INTERNAL: 500,
    ErrorCode.CONFLICT: 409,
}


class ApiError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return _STATUS[self.code]


class Unauthorized(Exception):
    """Any authentication or authorisation failure: 401, empty body."""


def validation(message: str) -> ApiError:
    return ApiError(ErrorCode.VALIDATION, message)


def not_found(message: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, message)


def conflict(message: str) -> ApiError:
    return ApiError(ErrorCode.CONFLICT, message)


def error_body(code: ErrorCode, message: str) -> bytes:
    return codec.dumps({"errorCode": code.value, "errorMessage": message})


def error_response(code: ErrorCode, message: str) -> Response:
    return Response(
        error_body(code, message), status_code=_STATUS[code], media_type="application/json"
    )


# SQLAlchemy's classes for failures of the database's operation rather than
# of the statement (a lost or refused connection, a server shutting down, a
# pool with no connection to give): transient, worth a retry.
DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
UNAVAILABLE_RETRY_AFTER_S = 1


def database_unavailable() -> Response:
    return Response(
        error_body(ErrorCode.INTERNAL, "database unavailable, retry later"),
        status_code=503,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
        media_type="application/json",
    )


async def _database_down(request: Request, exc: Exception) -> Response:
    # One line, no stack: an outage is not a bug, and it repeats per request.
    _log_unavailable(request.method, request.url.path, exc)
    return database_unavailable()


def _log_unavailable(method: object, path: object, exc: BaseException) -> None:
    first_line = (str(exc).splitlines() or [""])[0]
    log.warning(
        "api.database_unavailable",
        method=method,
        path=path,
        error=f"{type(exc).__name__}: {first_line[:300]}",
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.code, exc.message)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized) -> Response:
        return Response(status_code=401, media_type="application/json")

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = first.get("msg", "invalid request")
        return error_response(ErrorCode.VALIDATION, f"{where}: {message}" if where else message)

    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_down)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            # Upstream's router answers unknown paths in plain text.
            return PlainTextResponse("404 page not found", status_code=404)
        # 405 keeps its Allow header; upstream sends an empty JSON-typed body.
        return Response(
            status_code=exc.status_code, headers=exc.headers, media_type="application/json"
        )


class InternalErrors:
    """Last line: an exception escaping a handler becomes a logged `INTERNAL` 500.

    Starlette's own catch-all answers in plain text and re-raises; this one
    answers the envelope and keeps the server (and in-process tests) quiet.
    Exceptions listed in `passthrough` belong to outer middleware.
    """

    def __init__(self, app: ASGIApp, passthrough: tuple[type[BaseException], ...] = ()) -> None:
        self.app = app
        self.passthrough = passthrough

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except self.passthrough:
            raise
        except DATABASE_UNAVAILABLE as exc:
            # Raised outside a route's handlers (a middleware, a streamed body).
            _log_unavailable(scope.get("method"), scope.get("path"), exc)
            if started:
                raise
            await database_unavailable()(scope, receive, send)
        except Exception:
            log.exception("api.unhandled", method=scope.get("method"), path=scope.get("path"))
            if started:
                raise
            body = error_body(ErrorCode.INTERNAL, "internal error")
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
