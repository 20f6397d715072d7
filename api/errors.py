"""API errors in the upstream envelope: `{"errorCode": ..., "errorMessage": ...}`.

Only this module maps failures to HTTP: the codes are the OpenAPI enum
(`VALIDATION` 400, `NOT_FOUND` 404, `INTERNAL` 500).
"""

from __future__ import annotations

from enum import StrEnum

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    INTERNAL = "INTERNAL"


_STATUS = {ErrorCode.VALIDATION: 400, ErrorCode.NOT_FOUND: 404, ErrorCode.INTERNAL: 500}


class ApiError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return _STATUS[self.code]


def validation(message: str) -> ApiError:
    return ApiError(ErrorCode.VALIDATION, message)


def not_found(message: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, message)


def error_response(code: ErrorCode, message: str) -> JSONResponse:
    return JSONResponse(
        {"errorCode": code.value, "errorMessage": message}, status_code=_STATUS[code]
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = first.get("msg", "invalid request")
        return error_response(ErrorCode.VALIDATION, f"{where}: {message}" if where else message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            # Upstream's router answers unknown paths in plain text.
            return PlainTextResponse("404 page not found", status_code=404)
        if exc.status_code == 405:
            return Response(status_code=405, media_type="application/json")
        return Response(status_code=exc.status_code, media_type="application/json")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Never a stack trace or an empty 500: log it, answer the envelope.
        log.exception("api.unhandled", path=request.url.path)
        return error_response(ErrorCode.INTERNAL, "internal error")
