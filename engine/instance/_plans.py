"""The activities a resolved stage runs (BEHAVIOUR 6.2, 7.2), one at a time.

A stage's plan is a pure function of the stage and the outputs of its
activities so far: ``next_call`` replays the stage logic against the stored
outputs and returns the first call that has none yet (or None when the stage
is done). A request that depends on an earlier answer (the wallet's ledger,
the payment's amount) is thus always rebuilt from the stored output, and a
replay after a restart asks for exactly the same call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.config import ResolvedStage, Send, Update
from engine.instance._run import Pending, PlanError, Run
from engine.instance._send_plan import run_send
from engine.instance._state import PlannedCall


def next_call(
    stage: ResolvedStage,
    outputs: Sequence[dict[str, Any] | None],
    key: Callable[[int], str],
) -> PlannedCall | None:
    """The stage's next activity given the outputs of the earlier ones; None when done."""
    run = Run(outputs, key)
    try:
        if isinstance(stage, Update):
            _run_update(stage, run)
        elif isinstance(stage, Send):
            run_send(stage, run)
        else:
            raise PlanError(f"unsupported stage {stage.stage_name}")
    except Pending as pending:
        return pending.call
    return None


def _run_update(stage: Update, run: Run) -> None:
    account = stage.account
    if account is None:  # resolve_stage guarantees it; kept for the type checker
        raise PlanError("account is required")
    request = {
        "ledger": account.ledger,
        "account": account.id,
        "metadata": dict(account.metadata or {}),
    }
    run.call("AddAccountMetadata", request)
