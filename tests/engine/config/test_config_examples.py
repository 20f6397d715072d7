"""The example workflows shipped upstream (BEHAVIOUR.md 5.9), rewritten from their descriptions.

Each must pass creation-time validation and resolve at run time.
"""

from typing import Any

import pytest
import yaml

from engine.config import Send, parse_workflow, resolve_stage

pytestmark = pytest.mark.unit

EXAMPLES = {
    "delay.yaml": """
name: sleep-a-little
stages:
- delay:
    duration: 5s
    # until: "2030-01-01T00:00:00Z"
""",
    "wait_event.yaml": """
name: wait-for-go
stages:
- wait_event:
    event: continue
""",
    "update-account-metadata.yaml": """
name: tag-account
stages:
- update:
    account:
      id: ${accountID}
      ledger: ${ledger}
      metadata:
        foo: ${value}
""",
    "ledger-to-ledger.yaml": """
name: between-ledgers
stages:
- send:
    source:
      account:
        id: ${accountID1}
        ledger: ${ledger1}
        # throughAccount: world
        # allowOverdraft: true
    destination:
      account:
        id: ${accountID2}
        ledger: ${ledger2}
    amount:
      amount: ${amount}
      asset: EUR/2
""",
    "ledger-to-wallet.yaml": """
name: account-to-wallet
stages:
- send:
    source:
      account:
        id: ${accountID}
        ledger: ${ledger}
    destination:
      wallet:
        id: ${walletID}
    amount:
      amount: ${amount}
      asset: EUR/2
""",
    "payin-to-wallet.yaml": """
name: payin-credits-wallet
stages:
- send:
    source:
      payment:
        id: ${paymentID}
    destination:
      wallet:
        id: ${walletID}
    amount:
      amount: ${amount}
      asset: EUR/2
""",
    "wallet-to-payout.yaml": """
name: wallet-payout
stages:
- send:
    source:
      wallet:
        id: ${walletID}
        balance: ${balance}
    destination:
      payment:
        psp: ${psp}
        type: ${type}
    amount:
      amount: ${amount}
      asset: EUR/2
""",
    "payout-with-tracking.yaml": """
name: tracked-payout
stages:
- send:
    source:
      account:
        id: users:${userID}
        ledger: main
        throughAccount: liabilities:payouts-pending
        allowOverdraft: true
    destination:
      payment:
        psp: ${psp}
        type: PAYOUT
        sourceAccount: ${sourceAccountID}
        metadata: formanceAccountID
    amount:
      amount: ${amount}
      asset: EUR/2
""",
    "workflow.yaml": """
name: ingest-wait-move
stages:
- send:
    source:
      payment:
        id: ${paymentID}
    destination:
      account:
        id: ${temporaryAccount}
        ledger: ${ledger}
- wait_event:
    event: processed
- send:
    source:
      account:
        id: ${temporaryAccount}
        ledger: ${ledger}
    destination:
      account:
        id: ${user}
        ledger: ${ledger}
    amount:
      amount: ${amount}
      asset: EUR/2
""",
    "failing-workflow.yaml": """
name: not-enough-money
stages:
- send:
    source:
      account:
        id: user
    destination:
      account:
        id: bank
        ledger: default
    amount:
      amount: 100
      asset: EUR/2
""",
}

VARIABLES = {
    "accountID": "users:001",
    "accountID1": "users:001",
    "accountID2": "users:002",
    "amount": "1500",
    "ledger": "main",
    "ledger1": "main",
    "ledger2": "other",
    "paymentID": "pay-1",
    "psp": "stripe",
    "sourceAccountID": "acc_src",
    "temporaryAccount": "tmp:1",
    "user": "users:003",
    "userID": "042",
    "value": "bar",
    "walletID": "w-1",
}


def load(name: str) -> Any:
    return yaml.safe_load(EXAMPLES[name])


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_passes_creation_and_resolves(name: str) -> None:
    workflow = parse_workflow(load(name))
    assert workflow.raw == load(name)
    assert workflow.stages
    for stage in workflow.stages:
        resolve_stage(stage, VARIABLES)


def test_wallet_to_payout_fills_empty_variables_with_defaults() -> None:
    (stage,) = parse_workflow(load("wallet-to-payout.yaml")).stages
    resolved = resolve_stage(stage, {"walletID": "w-1", "psp": "stripe", "amount": "10"})
    assert resolved.history_input() == {
        "source": {"wallet": {"id": "w-1", "name": "", "balance": "main"}},
        "destination": {
            "payment": {
                "psp": "stripe",
                "type": "TRANSFER",
                "metadata": "formanceAccountID",
                "waitingValidation": False,
            }
        },
        "amount": {"amount": 10, "asset": "EUR/2"},
        "timestamp": None,
    }


def test_failing_workflow_source_ledger_defaults_to_default() -> None:
    (stage,) = parse_workflow(load("failing-workflow.yaml")).stages
    resolved = resolve_stage(stage, {})
    assert isinstance(resolved, Send)
    assert resolved.source.account is not None
    assert resolved.source.account.ledger == "default"
    assert resolved.amount is not None
    assert resolved.amount.amount == 100


def test_payout_with_tracking_resolves_user_account() -> None:
    (stage,) = parse_workflow(load("payout-with-tracking.yaml")).stages
    resolved = resolve_stage(stage, VARIABLES)
    assert resolved.history_input()["source"] == {
        "account": {
            "id": "users:042",
            "ledger": "main",
            "throughAccount": "liabilities:payouts-pending",
            "allowOverdraft": True,
        }
    }
    assert resolved.history_input()["destination"]["payment"]["sourceAccount"] == "acc_src"


def test_delay_example_reprints_duration() -> None:
    (stage,) = parse_workflow(load("delay.yaml")).stages
    assert resolve_stage(stage, {}).history_input() == {"duration": "5s"}
