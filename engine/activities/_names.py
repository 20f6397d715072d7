"""The activity catalogue (BEHAVIOUR 7.2): names, which ones mutate, where each goes."""

from __future__ import annotations

from typing import Literal

Service = Literal["ledger", "wallets", "payments"]

# Name -> the stack service it calls; the concurrency and rate limits are kept
# per service so that a slow one cannot starve the others.
SERVICES: dict[str, Service] = {
    "GetAccount": "ledger",
    "AddAccountMetadata": "ledger",
    "CreateTransaction": "ledger",
    "GetWallet": "wallets",
    "ListWallets": "wallets",
    "CreditWallet": "wallets",
    "DebitWallet": "wallets",
    "ConfirmHold": "wallets",
    "VoidHold": "wallets",
    "GetPayment": "payments",
    "CreateTransferInitiation": "payments",
    # Legacy (BEHAVIOUR 6.4): only in histories recorded before the generic
    # variant existed. Known so such histories display; never executed.
    "StripeTransfer": "payments",
}

ACTIVITY_NAMES: frozenset[str] = frozenset(SERVICES)

# The calls that change something upstream. The ledger and wallets ones carry
# the Idempotency-Key header (7.1); transfer initiations are made idempotent
# by their reference (6.4), which HttpStack looks up before posting.
MUTATING: frozenset[str] = frozenset(
    {
        "AddAccountMetadata",
        "CreateTransaction",
        "CreditWallet",
        "DebitWallet",
        "ConfirmHold",
        "VoidHold",
        "CreateTransferInitiation",
        "StripeTransfer",
    }
)

# Activities whose Formance error bodies become typed failures (7.1).
TYPED: frozenset[str] = frozenset(
    {"GetAccount", "AddAccountMetadata", "CreateTransaction", "DebitWallet"}
)
