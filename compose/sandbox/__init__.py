"""The Formance stack sandbox: a separate in-memory HTTP process for tests and demos.

It serves the stack gateway's ledger paths (v2 under ``/api/ledger/v2``, the v1
account read), the wallets paths (``/api/wallets``, over the ledger
``wallets-002``) and the payments v1 paths the engine calls (``/api/payments``),
so ``formance-sdk-python`` and ``engine.activities.HttpStack`` work against it
unmodified. It is not a ledger: state lives in memory and is gone when the
process stops. It runs the overdraft Numscript template the engine posts
(``numscript``), and with a Kafka bootstrap publishes the ledger's and
payments' events (``events``, ``publisher``). It never imports ``engine``
(a separate service)::

    app = create_app(SandboxSettings(latency=0.05, error_rate=0.1, drop_rate=0.1))
    # orchestration sandbox --port 8081 [--kafka-bootstrap HOST:PORT]
    # GET /_sandbox/log: calls received; GET /_sandbox/events: events published
"""

from compose.sandbox.app import create_app
from compose.sandbox.events import Event
from compose.sandbox.faults import SandboxSettings
from compose.sandbox.ledger import Ledger, Ledgers, SandboxError

__all__ = ["Event", "Ledger", "Ledgers", "SandboxError", "SandboxSettings", "create_app"]
