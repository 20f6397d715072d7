"""Golden trace of a payment -> wallet send: every effect, in order, as JSON.

The trace covers the stage and activity history records (4.5, 4.6) as well as
the calls, so a change to any of them shows up as a diff of the golden file.
Regenerate after a deliberate change with ``ORCHESTRATION_REGENERATE_GOLDEN=1``
and review the diff.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.commands import StartInstance
from engine.instance import (
    ActivityFailed,
    ActivitySucceeded,
    CallActivity,
    EmitHistory,
    Input,
    Outcome,
    Start,
    step,
)
from streams import codec

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).parent / "golden" / "payment_to_wallet.json"
T0 = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)

SEND = {
    "source": {"payment": {"id": "pay-1"}},
    "destination": {"wallet": {"name": "${wallet}", "balance": "main"}},
    "metadata": {"order": "A-17"},
}
PAYMENT = {"data": {"id": "pay-1", "asset": "EUR/2", "initialAmount": 1500, "amount": 1500}}
WALLETS = {
    "cursor": {
        "hasMore": False,
        "data": [{"id": "w1", "name": "user:1", "ledger": "wallets", "metadata": {}}],
    }
}


def effects(outcome: Outcome) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for effect in outcome.effects:
        if isinstance(effect, EmitHistory):
            out.append({"history": dict(effect.record)})
        else:
            out.append({type(effect).__name__: asdict(effect)})
    return out


def trace() -> list[dict[str, Any]]:
    command = StartInstance(
        id="cmd1",
        instance_id="inst1",
        workflow_id="wf1",
        config={"name": "w", "stages": [{"send": SEND}]},
        variables={"wallet": "user:1"},
        created_at="2025-03-04T10:00:00Z",
    )
    outcome = step(None, Start(command, "stack1", T0))
    steps = [effects(outcome)]
    # The ingestion answers CONFLICT (already ingested), the rest succeed.
    answers: list[dict[str, Any] | str | None] = [PAYMENT, "CONFLICT", WALLETS, None, None]
    for n, answer in enumerate(answers, start=1):
        (call,) = [e for e in outcome.effects if isinstance(e, CallActivity)]
        now = T0 + timedelta(seconds=n)
        event: Input
        if isinstance(answer, str):
            event = ActivityFailed(call.activity_id, answer, "reference conflict", False, now)
        else:
            event = ActivitySucceeded(call.activity_id, answer, now)
        outcome = step(outcome.state, event)
        steps.append(effects(outcome))
    assert outcome.state is not None
    assert outcome.state.terminated
    return [{"step": n, "effects": e} for n, e in enumerate(steps)]


def test_payment_to_wallet_trace_matches_the_golden_file() -> None:
    produced = codec.loads(codec.dumps(trace()))
    if os.environ.get("ORCHESTRATION_REGENERATE_GOLDEN"):
        GOLDEN.write_bytes(codec.dumps(produced) + b"\n")
    assert produced == codec.loads(GOLDEN.read_bytes())
