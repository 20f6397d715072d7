"""The workflow-instance state machine: pure, one input at a time (BEHAVIOUR 4.3-4.6, 5, 6, 8).

No I/O, no clock, no randomness: every input carries ``now``; ids derive from
the instance id, stage and position. The runtime (not here) stores the state,
runs the effects and feeds their results back::

    outcome = step(None, Start(command, stack="s1", now=now))
    outcome.state           # InstanceState (to_wire() / from_wire() via streams.codec)
    outcome.effects         # CallActivity, SetTimer, CancelTimer, EmitHistory, Terminated
    outcome = step(outcome.state, ActivitySucceeded(activity_id, output, now))
    outcome.rejected        # a reason when the input no longer applies (state unchanged)

Inputs: ``Start``, ``ActivitySucceeded``, ``ActivityFailed``, ``TimerFired``,
``EventReceived``, ``Abort``, ``Resume`` (release a held activity), and
``Recover`` (a new owner took the instance over: it re-arms the pending
timer, or re-sends the in-flight activity with the same idempotency key as a
new attempt). ``EmitHistory.record`` is an ``engine.history``
record (``stage.status``, ``stage.history``, ``activity.history``,
``instance.terminated``).

Retries (14.2, 14.3): a retryable failure waits 2 s doubling up to 200 s, then
repeats the same ``CallActivity`` (same id, request and idempotency key) up to
the workflow's ``activityMaxAttempts`` (default 15); a non-retryable or last
failure fails the stage and the instance with the failure message.

Pause mode (14.4; ``Start.pause_activities``, the worker's setting, kept in
the state so a replay is the same): a retryable activity out of attempts is
put on hold instead (``waiting == "paused"``, ``paused_at``, reason
``ACTIVITY_ATTEMPT_LIMIT:<budget>``; ``INSUFFICIENT_FUND`` counts as
retryable), the stage and instance stay unfinished, and its history record
carries ``paused``/``pausedAt``/``pauseReason``/``maxAttempts``/
``lastFailureType``. ``Resume(activity_id, paused_at)`` with the observed
``paused_at`` releases it: attempt counter reset, the same ``CallActivity``
(same idempotency key); a resume for an activity not on hold, or held again
since, is rejected (a no-op).

Choices: the status rows' ``runID`` is the ``instance.start`` command id;
activity ids are ``<instance>:<stage>:<position>``. Early events (15 item 17):
an event that arrives while no ``wait_event`` stage waits is kept in
``InstanceState.early_events`` (at most ``EVENT_BUFFER`` = 64; beyond, the
oldest is dropped and counted in ``early_events_dropped``). A ``wait_event``
stage that starts takes the kept events in arrival order as if they were
posted at that moment (5.5): those before the first with its name are
discarded, that one completes the stage at once, later ones stay for a later
stage; with no match it discards them all and waits. A non-matching event
reaching a waiting stage is discarded (rejected, state unchanged).

Stages: ``noop``, ``delay``, ``wait_event``, ``update`` and ``send`` with
every source/destination combination of 6.2 (payment to payment fails with
the spec's message). A stage's activities are not fixed up front: each next
call is derived from the stage and the stored outputs of the earlier ones
(``InstanceState.outputs``), so a call that needs the wallet's ledger or the
payment's amount reads it from its stored answer and the machine stays pure.
A ``CONFLICT`` on a payment's ingestion transaction is recorded on that
activity and the stage goes on (6.2). Transfer initiations carry a
``reference`` equal to the call's idempotency key: unique and the same on
every retry, so the activity can look it up before posting (6.4).
"""

from engine.instance._effects import (
    CallActivity,
    CancelTimer,
    Effect,
    EmitHistory,
    SetTimer,
    Terminated,
)
from engine.instance._inputs import (
    Abort,
    ActivityFailed,
    ActivitySucceeded,
    EventReceived,
    Input,
    Recover,
    Resume,
    Start,
    TimerFired,
)
from engine.instance._machine import Outcome, retry_delay, step
from engine.instance._state import EVENT_BUFFER, InstanceState, PlannedCall

__all__ = [
    "EVENT_BUFFER",
    "Abort",
    "ActivityFailed",
    "ActivitySucceeded",
    "CallActivity",
    "CancelTimer",
    "Effect",
    "EmitHistory",
    "EventReceived",
    "Input",
    "InstanceState",
    "Outcome",
    "PlannedCall",
    "Recover",
    "Resume",
    "SetTimer",
    "Start",
    "Terminated",
    "TimerFired",
    "retry_delay",
    "step",
]
