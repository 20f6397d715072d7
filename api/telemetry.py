"""Access logs and Prometheus metrics for every HTTP request.

One pure-ASGI middleware measures each request once: a structured access
log line (method, path, route template, status, duration; never headers, so
never the Authorization token) and two metrics labelled by route *template*
(`/v2/instances/{instance_id}`, not the id: one series per route, not per
object):

* `orchestration_http_requests_total{method,route,status}`
* `orchestration_http_request_duration_seconds{method,route}` (histogram)

Requests that match no route are labelled `unmatched`. Each app owns its
registry, so several apps in one process (tests) do not collide.
"""

from __future__ import annotations

import time

import structlog
from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("api.access")

# Reads are expected in single-digit milliseconds, `wait=true` in seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "orchestration_http_requests",
            "HTTP requests served, by route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "orchestration_http_request_duration_seconds",
            "Time from request start to the end of the response body.",
            ("method", "route"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.outbox_parked = Counter(
            "orchestration_outbox_parked",
            "Outbox rows parked because the broker refuses them for good (too large).",
            registry=self.registry,
        )

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class RequestTelemetry:
    def __init__(self, app: ASGIApp, metrics: Metrics, *, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            if self.access_log:
                log.info(
                    "http.request",
                    method=method,
                    path=scope["path"],
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
