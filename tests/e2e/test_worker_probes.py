"""`orchestration worker` serves /healthz, /readyz and /metrics on its metrics port."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def test_a_running_worker_is_healthy_ready_and_measured(run_stack: Callable[..., Stack]) -> None:
    stack = run_stack()
    base = f"http://127.0.0.1:{stack.env['ORCHESTRATION_WORKER_METRICS_PORT']}"
    with httpx.Client(base_url=base, timeout=5) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json() == {"status": "ready"}
        metrics = http.get("/metrics").text
        assert "orchestration_inbound_events_total" in metrics
