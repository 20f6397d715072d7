"""Activities: one call to a Formance API per activity (BEHAVIOUR 7).

The engine depends on the ``Stack`` port only; ``HttpStack`` is the real one::

    stack = HttpStack(ActivitySettings())      # ORCHESTRATION_STACK_URL, credentials, limits
    key = idempotency_key(settings.stack, instance_id, stage, sequence)
    try:
        out = await stack.call("CreateTransaction", request, idempotency_key=key)
    except ActivityFailure as failure:
        failure.code, failure.message, failure.retryable, failure.status
    await stack.aclose()

``request`` is exactly the object that appears in the stage history input
``{"<Name>": request}`` (7.2) and ``out`` exactly the output object, or None
for the activities without output (AddAccountMetadata, CreditWallet, an
immediate DebitWallet, ConfirmHold, VoidHold, CreateTransferInitiation).

One ``call`` is one attempt: retries, their schedule and their budget belong
to the state machine, which passes the same key on every attempt (mutating
ledger and wallets calls send it as ``Idempotency-Key``; transfer initiations
are looked up by their ``reference`` before being posted). ``ACTIVITY_NAMES``
is the catalogue, ``MUTATING`` the names that change something upstream.
"""

from engine.activities._errors import ActivityFailure
from engine.activities._http import HttpStack
from engine.activities._keys import idempotency_key
from engine.activities._names import ACTIVITY_NAMES, MUTATING
from engine.activities._port import Stack
from engine.activities._settings import ActivitySettings

__all__ = [
    "ACTIVITY_NAMES",
    "MUTATING",
    "ActivityFailure",
    "ActivitySettings",
    "HttpStack",
    "Stack",
    "idempotency_key",
]
