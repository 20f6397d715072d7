"""Each package exports a small, deliberate surface; changing it is a decision."""

import importlib

import pytest

pytestmark = pytest.mark.unit

SURFACES = {
    "streams": {
        "BatchConsumer",
        "Envelope",
        "KafkaSettings",
        "MalformedEvent",
        "Record",
        "Topics",
        "codec",
        "create_app",
        "decode_envelope",
        "ensure_topics",
        "format_time",
        "new_envelope",
        "raw_topic",
    },
    "triggers": {
        "CompiledTrigger",
        "FilterFailure",
        "InvalidTrigger",
        "Match",
        "Trigger",
        "TriggerError",
        "TriggerIndex",
        "compile_trigger",
        "derived_id",
        "evaluate",
        "event_identity",
        "instance_id",
        "occurrence_id",
    },
    "triggers.expr": {
        "MAX_BYTES",
        "MAX_STEPS",
        "Budget",
        "CompileError",
        "EvalError",
        "ExactInts",
        "ExprError",
        "Fetch",
        "Program",
        "compile",
        "decode_event",
        "format_var",
        # The leading tests of a filter, for the trigger index (triggers.index).
        "UNKNOWN",
        "EqualityTest",
        "Path",
        "leading_equalities",
        "value_at",
    },
    "engine": {
        "DatabaseSettings",
        "ReplayError",
        "ReplayProgress",
        "ReplayWindow",
        "StackSettings",
        "WorkflowConfigError",
        "WorkflowDefinition",
        "commands",
        "create_db_engine",
        "link_fetcher",
        "migrate",
        "parse_workflow",
        "run_replay",
        "schema",
        "trigger_record",
        "trigger_tombstone",
        "workflow_record",
    },
    "engine.config": {
        "Amount",
        "ConfigError",
        "DEFAULT_ACTIVITY_MAX_ATTEMPTS",
        "Delay",
        "LedgerAccount",
        "Noop",
        "PaymentDestination",
        "PaymentSource",
        "ResolvedStage",
        "Send",
        "SendDestination",
        "SendSource",
        "StageError",
        "StageSpec",
        "Update",
        "UpdateAccount",
        "WaitEvent",
        "Wallet",
        "Workflow",
        "WorkflowConfigError",
        "format_date",
        "format_duration",
        "interpolate",
        "parse_date",
        "parse_duration",
        "parse_workflow",
        "resolve_stage",
    },
    "engine.activities": {
        "ACTIVITY_NAMES",
        "MUTATING",
        "ActivityFailure",
        "ActivitySettings",
        "HttpStack",
        "Stack",
        "idempotency_key",
    },
    "engine.worker": {"Worker"},
    "api": {"ApiSettings", "create_app"},
    "engine.db": {"create_db_engine", "migrate", "schema"},
    "compose.localstack": {
        "KAFKA_VERSION",
        "KafkaBroker",
        "LocalStackError",
        "PostgresCluster",
        "free_port",
    },
    "compose.sandbox": {
        "Event",
        "Ledger",
        "Ledgers",
        "SandboxError",
        "SandboxSettings",
        "create_app",
    },
}


@pytest.mark.parametrize("package", sorted(SURFACES))
def test_export_list_is_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == SURFACES[package]
    for name in module.__all__:
        assert hasattr(module, name), name


def test_api_uses_only_the_engine_facade() -> None:
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1] / "api"
    deep = re.compile(r"^\s*(?:from|import) engine\.", re.MULTILINE)
    offenders = [str(p) for p in root.rglob("*.py") if deep.search(p.read_text())]
    assert offenders == []


def test_triggers_never_imports_engine_or_api() -> None:
    import subprocess
    import sys

    code = (
        "import sys, triggers, triggers.expr; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('engine', 'api', 'compose')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_sandbox_never_imports_engine_or_api() -> None:
    import subprocess
    import sys

    # The sandbox stands in for a separate service: it shares only streams.
    code = (
        "import sys, compose.sandbox; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('engine', 'api', 'triggers')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
