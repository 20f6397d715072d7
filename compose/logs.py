"""structlog + stdlib logging set up once per process.

Errors are rendered plainly and bounded: tracebacks never show local
variables (they held request bodies, hence possibly secrets, and one nested
2 KB body once rendered into ~400 MB of log while the event loop waited), an
error line is cut at 16 KB, and one kind of error (same event, same
exception type) is written at most 5 times a minute, the next line saying
how many were suppressed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import structlog
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATION_", extra="ignore")

    log_level: str = "INFO"
    # "json" for machines (one object per line), "console" for people.
    log_format: str = "console"


# 16 KB keeps a whole ordinary traceback (2-6 KB) and bounds a pathological one.
MAX_ERROR_CHARS = 16_384
# At most 5 lines per kind of error per minute: enough to see a pattern, far
# too few to fill a disk or hold the loop in a tight failure loop.
RATE_LIMIT = 5
RATE_WINDOW_S = 60.0


class ErrorRateLimit:
    """Drops repeats of one kind of error (or of one `throttle` key) beyond the rate.

    As a structlog processor (`__call__`) it raises `DropEvent`, which
    structlog's own loggers catch. Records of stdlib loggers (aiokafka,
    uvicorn) go through `ForeignErrorLimit`, a `logging.Filter` sharing this
    limit: a formatter must never raise `DropEvent`, a BaseException that
    would escape `logger.error()` into the library that called it (it once
    killed aiokafka's tasks, then the worker, when a broker went away).
    """

    def __init__(self, limit: int = RATE_LIMIT, window_s: float = RATE_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        # kind -> (window start, lines written, lines suppressed)
        self._seen: dict[tuple[str, str], tuple[float, int, int]] = {}

    def admit(self, kind: tuple[str, str]) -> int | None:
        """None: drop this line; else how many of its kind were dropped before it."""
        now = time.monotonic()
        start, written, suppressed = self._seen.get(kind, (now, 0, 0))
        if now - start >= self.window_s:
            start, written = now, 0
        if written >= self.limit:
            self._seen[kind] = (start, written, suppressed + 1)
            return None
        self._seen[kind] = (start, written + 1, 0)
        if len(self._seen) > 10_000:  # bound the table itself
            self._seen.clear()
        return suppressed

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        throttle = event.pop("throttle", None)
        if throttle is not None:
            kind = (str(event.get("event")), f"throttle:{throttle}")
        elif method not in ("error", "exception", "critical"):
            return event
        else:
            exc = event.get("exc_info")
            kind_of_exc = type(exc).__name__ if isinstance(exc, BaseException) else ""
            if exc is True:
                kind_of_exc = type(sys.exc_info()[1]).__name__
            kind = (str(event.get("event")), kind_of_exc)
        suppressed = self.admit(kind)
        if suppressed is None:
            raise structlog.DropEvent
        if suppressed:
            event["suppressed"] = suppressed
        return event


_SUPPRESSED = "orchestration_suppressed"


class ForeignErrorLimit(logging.Filter):
    """`ErrorRateLimit` for records of stdlib loggers: filtered out, never raised.
    A kind is the message template (`"Unable connect to node with id %s: %s"`)
    and the exception type."""

    def __init__(self, limit: ErrorRateLimit) -> None:
        super().__init__()
        self._limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        # structlog's own records passed `ErrorRateLimit` already.
        if record.levelno < logging.ERROR or hasattr(record, "_logger"):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        suppressed = self._limit.admit((str(record.msg), type(exc).__name__ if exc else ""))
        if suppressed is None:
            return False
        if suppressed:
            setattr(record, _SUPPRESSED, suppressed)
        return True


def _foreign_suppressed(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event.get("_record")
    suppressed = getattr(record, _SUPPRESSED, 0)
    if suppressed:
        event["suppressed"] = suppressed
    return event


def _bound_errors(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    text = event.get("exception")
    if isinstance(text, str) and len(text) > MAX_ERROR_CHARS:
        event["exception"] = text[:MAX_ERROR_CHARS] + f"... [{len(text)} chars, cut]"
    return event


def configure_logging(settings: LogSettings | None = None) -> None:
    settings = settings or LogSettings()
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    # Both renderers get the traceback as plain text from format_exc_info
    # (no locals, whatever is installed: rich would render them).
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    limit = ErrorRateLimit()
    head: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
    ]
    tail: list[structlog.types.Processor] = [
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _bound_errors,
    ]
    structlog.configure(
        processors=[
            *head,
            limit,
            *tail,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    # Stdlib records are limited by a filter, before formatting: see ErrorRateLimit.
    handler.addFilter(ForeignErrorLimit(limit))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*head, _foreign_suppressed, *tail],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka logs every coordinator hiccup at ERROR during normal rebalances;
    # httpx logs each request at INFO (the dev stack's health polling).
    logging.getLogger("aiokafka").setLevel(max(level, logging.WARNING))
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
    # One "setup plugin" line per alembic extension at every start: noise.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(level, logging.WARNING))
