"""The one failure an activity call raises.

::

    Exception
     └── ActivityFailure   code, message, retryable, status

``code`` is the Formance ``errorCode`` for the typed activities (GetAccount,
AddAccountMetadata and CreateTransaction: ledger codes; DebitWallet: wallets
codes) and None for everything else: untyped activities, transport failures,
time-outs. ``retryable`` applies upstream's policy (BEHAVIOUR 8.7, 14.2):
only the codes in NON_RETRYABLE_CODES and requests this client cannot even
build stop the retries; the state machine adds its own (INSUFFICIENT_FUND is
terminal for ledger, wallet and payment calls under the bounded policy of
14.2), which is why ``code`` is always the server's code.
"""

from __future__ import annotations

# Upstream's non-retryable error types for stage activities (8.7). Every
# other code, INSUFFICIENT_FUND, NOT_FOUND and METADATA_OVERRIDE included, is
# retried, like every untyped failure.
NON_RETRYABLE_CODES = frozenset({"VALIDATION", "CONFLICT", "NO_SCRIPT", "COMPILATION_FAILED"})


class ActivityFailure(Exception):
    """One failed attempt of an activity; ``str()`` is ``message``."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = code not in NON_RETRYABLE_CODES if retryable is None else retryable
        self.status = status

    def __repr__(self) -> str:
        return (
            f"ActivityFailure({self.message!r}, code={self.code!r}, "
            f"retryable={self.retryable!r}, status={self.status!r})"
        )
