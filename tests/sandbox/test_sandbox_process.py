"""The sandbox as a real process (`python -m compose sandbox`), driven by real clients."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest
from formance_sdk_python import SDK
from formance_sdk_python.models import ledger as shared
from formance_sdk_python.models import operations

from engine.activities import ActivityFailure, ActivitySettings, HttpStack
from engine.commands import StartInstance
from engine.instance import ActivitySucceeded, CallActivity, step
from engine.instance import Start as StartStep
from streams import codec
from tests.sandbox.conftest import Start

pytestmark = pytest.mark.integration


async def test_http_stack_activities_get_parsed_answers(start_sandbox: Start) -> None:
    url = start_sandbox()
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/api/ledger/v2/main")).status_code == 204
    big = 2**70
    request = {
        "ledger": "main",
        "data": {
            "postings": [
                {"source": "world", "destination": "users:1", "asset": "EUR/2", "amount": big}
            ],
            "reference": "order-1",
        },
    }
    async with HttpStack(ActivitySettings(stack_url=url)) as stack:
        first = await stack.call("CreateTransaction", request, idempotency_key="key-1")
        again = await stack.call("CreateTransaction", request, idempotency_key="key-1")
        account = await stack.call(
            "GetAccount", {"ledger": "main", "id": "users:1"}, idempotency_key=None
        )
        with pytest.raises(ActivityFailure) as refused:
            await stack.call("CreateTransaction", request, idempotency_key="key-2")
    assert first is not None
    assert first == again
    assert first["data"][0]["postings"][0]["amount"] == big
    assert first["data"][0]["reference"] == "order-1"
    assert account == {
        "data": {
            "address": "users:1",
            "metadata": {},
            "volumes": {"EUR/2": {"input": big, "output": 0, "balance": big}},
            "balances": {"EUR/2": big},
        }
    }
    assert refused.value.code == "CONFLICT"
    async with httpx.AsyncClient(base_url=url) as http:
        listed = codec.loads((await http.get("/api/ledger/v2/main/transactions")).content)
    assert len(listed["cursor"]["data"]) == 1


def test_formance_sdk_works_unmodified(start_sandbox: Start) -> None:
    url = start_sandbox()
    sdk = SDK(server_url=url)
    sdk.ledger.v2.create_ledger(
        request=operations.V2CreateLedgerRequest(
            ledger="sdk", v2_create_ledger_request=shared.V2CreateLedgerRequest()
        )
    )
    big = 2**70
    posting = shared.V2Posting(source="world", destination="users:2", asset="USD", amount=big)
    created = sdk.ledger.v2.create_transaction(
        request=operations.V2CreateTransactionRequest(
            ledger="sdk",
            idempotency_key="sdk-1",
            v2_post_transaction=shared.V2PostTransaction(postings=[posting], metadata={}),
        )
    )
    assert created.v2_create_transaction_response is not None
    assert created.v2_create_transaction_response.data.postings[0].amount == big
    got = sdk.ledger.v2.get_account(
        request=operations.V2GetAccountRequest(ledger="sdk", address="users:2", expand="volumes")
    )
    assert got.v2_account_response is not None
    volumes = got.v2_account_response.data.volumes
    assert volumes is not None
    assert volumes["USD"].balance == big
    v1 = sdk.ledger.v1.get_account_ledger(
        request=operations.GetAccountLedgerRequest(ledger="sdk", address="users:2")
    )
    assert v1.account_response is not None
    assert v1.account_response.data.balances == {"USD": big}


def test_dropped_reply_was_applied_and_is_logged(start_sandbox: Start) -> None:
    url = start_sandbox("--drop-rate", "1")
    body = {"postings": [{"source": "world", "destination": "a", "asset": "USD", "amount": 1}]}
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{url}/api/ledger/v2/main")
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{url}/api/ledger/v2/main/transactions", content=codec.dumps(body))
    log = codec.loads(httpx.get(f"{url}/_sandbox/log").content)["data"]
    assert [(e["path"], e["status"], e["fault"]) for e in log] == [
        ("/api/ledger/v2/main", 204, "drop"),
        ("/api/ledger/v2/main/transactions", 200, "drop"),
    ]


async def test_retries_with_one_key_after_dropped_replies_apply_once(start_sandbox: Start) -> None:
    # Seeded draws, the same on every run: with seed 10 the ledger creation
    # gets its reply and the first transaction's reply is dropped.
    url = start_sandbox("--drop-rate", "0.5", "--seed", "10")
    posting = {"source": "world", "destination": "users:1", "asset": "USD", "amount": 2**70}
    request = {"ledger": "main", "data": {"postings": [posting]}}
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(50):
            with contextlib.suppress(httpx.HTTPError):
                await http.post("/api/ledger/v2/main")  # 204, or exists after a drop
                break
        answer = None
        failures: list[ActivityFailure] = []
        async with HttpStack(ActivitySettings(stack_url=url)) as stack:
            for _ in range(50):
                try:
                    answer = await stack.call("CreateTransaction", request, idempotency_key="k")
                    break
                except ActivityFailure as failure:
                    failures.append(failure)
        assert answer is not None
        assert all(f.retryable for f in failures)
        log = codec.loads((await http.get("/_sandbox/log")).content)["data"]
        txs = codec.loads((await http.get("/api/ledger/v2/main/transactions")).content)
        account = codec.loads((await http.get("/api/ledger/main/accounts/users:1")).content)
    posts = [e for e in log if e["path"] == "/api/ledger/v2/main/transactions"]
    assert any(e["fault"] == "drop" for e in posts)
    assert len(txs["cursor"]["data"]) == 1
    assert account["data"]["balances"] == {"USD": 2**70}


async def test_http_stack_sees_typed_and_injected_failures(start_sandbox: Start) -> None:
    url = start_sandbox()
    faulty = start_sandbox("--error-rate", "1")
    spend = {"source": "users:9", "destination": "world", "asset": "USD", "amount": 1}
    request = {"ledger": "main", "data": {"postings": [spend]}}
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/api/ledger/v2/main")).status_code == 204
    async with HttpStack(ActivitySettings(stack_url=url)) as stack:
        with pytest.raises(ActivityFailure) as poor:
            await stack.call("CreateTransaction", request, idempotency_key="a")
    async with HttpStack(ActivitySettings(stack_url=faulty)) as stack:
        with pytest.raises(ActivityFailure) as down:
            await stack.call("CreateTransaction", request, idempotency_key="a")
    assert poor.value.code == "INSUFFICIENT_FUND"
    assert poor.value.status == 400
    assert down.value.status == 503
    assert down.value.retryable


def test_faults_from_the_environment_and_flags_override_them(start_sandbox: Start) -> None:
    env = {"ORCHESTRATION_SANDBOX_ERROR_RATE": "1"}
    from_env = start_sandbox(env=env)
    overridden = start_sandbox("--error-rate", "0", env=env)
    assert httpx.post(f"{from_env}/api/ledger/v2/main").status_code == 503
    assert httpx.post(f"{overridden}/api/ledger/v2/main").status_code == 204
    info = codec.loads(httpx.get(f"{from_env}/_info").content)
    assert info["name"] == "sandbox"


def test_invalid_fault_setting_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "compose", "sandbox", "--error-rate", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "error: error_rate:" in result.stderr
    assert "Traceback" not in result.stderr


async def test_engine_overdraft_send_runs_on_the_sandbox_process(start_sandbox: Start) -> None:
    # The calls the engine's own send stage makes (6.2-6.3), not hand-written
    # ones: users:1 on `main` may overdraw, so its leg is the 6.3 script.
    big = 2**70 + 3
    send = {
        "source": {"account": {"id": "users:1", "ledger": "main", "allowOverdraft": True}},
        "destination": {"account": {"id": "payouts:1", "ledger": "other"}},
        "amount": {"amount": big, "asset": "EUR/2"},
    }
    command = StartInstance(
        id="cmd1",
        instance_id="inst1",
        workflow_id="wf1",
        config={"name": "w", "stages": [{"send": send}]},
        variables={},
        created_at="2025-03-04T10:00:00Z",
    )
    now = datetime(2025, 3, 4, tzinfo=UTC)
    url = start_sandbox()
    async with httpx.AsyncClient(base_url=url) as http:
        for ledger in ("main", "other"):
            assert (await http.post(f"/api/ledger/v2/{ledger}")).status_code == 204
    outcome = step(None, StartStep(command, "stack1", now))
    scripts: list[str] = []
    async with HttpStack(ActivitySettings(stack_url=url)) as stack:
        while outcome.state is not None and not outcome.state.terminated:
            (call,) = [e for e in outcome.effects if isinstance(e, CallActivity)]
            if "script" in call.request["Data"]:
                scripts.append(call.request["Data"]["script"]["plain"])
            answer = await stack.call(call.name, call.request, idempotency_key=call.idempotency_key)
            again = await stack.call(call.name, call.request, idempotency_key=call.idempotency_key)
            assert answer == again
            outcome = step(outcome.state, ActivitySucceeded(call.activity_id, answer, now))
        read = {"idempotency_key": None}
        user = await stack.call("GetAccount", {"ledger": "main", "id": "users:1"}, **read)
        payouts = await stack.call("GetAccount", {"ledger": "other", "id": "payouts:1"}, **read)
    assert outcome.state is not None
    assert outcome.state.error is None
    assert scripts == [
        f"send [EUR/2 {big}] (\n  source = @users:1 allowing unbounded overdraft\n"
        "  destination = @world\n)"
    ]
    assert user is not None
    assert payouts is not None
    assert user["data"]["balances"] == {"EUR/2": -big}
    assert payouts["data"]["balances"] == {"EUR/2": big}


def test_overdraft_template_over_plain_http_and_other_scripts_refused(
    start_sandbox: Start,
) -> None:
    url = start_sandbox()
    big = 2**70 + 3
    plain = (
        f"send [USD/2 {big}] (\n"
        "  source = @users:7 allowing unbounded overdraft\n"
        "  destination = @world\n)"
    )
    assert httpx.post(f"{url}/api/ledger/v2/main").status_code == 204
    path = f"{url}/api/ledger/v2/main/transactions"
    ok = httpx.post(path, content=codec.dumps({"script": {"plain": plain, "vars": {}}}))
    other = httpx.post(path, content=codec.dumps({"script": {"plain": "print 1"}}))
    account = codec.loads(httpx.get(f"{url}/api/ledger/main/accounts/users:7").content)
    assert ok.status_code == 200
    assert codec.loads(ok.content)["data"]["postings"][0]["amount"] == big
    assert account["data"]["balances"] == {"USD/2": -big}
    assert (other.status_code, codec.loads(other.content)["errorCode"]) == (
        400,
        "COMPILATION_FAILED",
    )
