"""The sandbox HTTP app: the Formance gateway's ledger paths over in-memory ledgers.

Bodies go in and out through ``streams.codec`` so amounts of any size stay
exact. ``GET /_sandbox/log`` lists the calls received, in order.
"""

from __future__ import annotations

import base64
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from compose.sandbox.events import Sink
from compose.sandbox.faults import App, Faults, SandboxSettings, Scope
from compose.sandbox.ledger import Ledgers, SandboxError, fingerprint
from compose.sandbox.payments import Payments
from compose.sandbox.publisher import Publisher, module_topic
from compose.sandbox.wallets import Wallets
from streams import codec
from streams.settings import KafkaSettings

log = logging.getLogger("sandbox")
Handler = Callable[..., Awaitable[Response]]

V2 = "/api/ledger/v2"
W = "/api/wallets"
P = "/api/payments"
# The ledger the wallets service keeps its accounts in (its default name).
WALLETS_LEDGER = "wallets-002"
# The call log keeps the latest calls only: a long soak must not grow it forever.
LOG_SIZE = 10_000
# How `orchestration sandbox` runs under uvicorn: httptools parses HTTP in C
# and uvloop runs the loop on libuv. Against h11 and the stdlib loop they
# halve the sandbox's CPU per CreateTransaction (~0.45 -> ~0.22 ms on 2
# cores, benchmarks/sandbox.py), so one sandbox keeps up with 2,000+ calls/s.
UVICORN_OPTIONS: dict[str, Any] = {"http": "httptools", "loop": "uvloop"}


def _json(data: Any, status: int = 200) -> Response:
    return Response(codec.dumps(data), status_code=status, media_type="application/json")


def _error(exc: SandboxError) -> Response:
    return _json({"errorCode": exc.code, "errorMessage": exc.message}, exc.status)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return codec.loads(raw)
    except ValueError:
        raise SandboxError(400, "VALIDATION", "the body is not JSON") from None


def _cursor(items: list[Any], request: Request) -> dict[str, Any]:
    """One page of ``items`` as the ledger's cursor: ``pageSize`` (15 by default,
    at most 1,000) and the opaque ``cursor`` of ``next``/``previous``."""
    try:
        size = min(max(int(request.query_params.get("pageSize", "15")), 1), 1000)
        token = request.query_params.get("cursor")
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError:
        raise SandboxError(400, "VALIDATION", "invalid pageSize or cursor") from None
    offset = max(offset, 0)
    page: dict[str, Any] = {
        "pageSize": size,
        "hasMore": offset + size < len(items),
        "data": items[offset : offset + size],
    }
    if page["hasMore"]:
        page["next"] = _token(offset + size)
    if offset > 0:
        page["previous"] = _token(max(offset - size, 0))
    return {"cursor": page}


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _publisher(settings: SandboxSettings) -> Publisher | None:
    if not settings.kafka_bootstrap:
        return None
    inbound = KafkaSettings().topics
    return Publisher(
        settings.kafka_bootstrap,
        {
            "ledger": settings.ledger_topic or module_topic(inbound, "ledger"),
            "payments": settings.payments_topic or module_topic(inbound, "payments"),
        },
    )


def create_app(settings: SandboxSettings | None = None, sink: Sink | None = None) -> App:
    """A fresh sandbox (empty ledgers, empty log) behind the configured faults.

    Every state change's event goes to ``sink`` when given, else to Kafka when
    ``settings.kafka_bootstrap`` is set, else nowhere."""
    settings = settings or SandboxSettings()
    publisher = _publisher(settings) if sink is None else None
    if publisher is not None:
        sink = publisher.publish
    ledgers = Ledgers(sink)
    ledgers.create(WALLETS_LEDGER, None)
    wallets = Wallets(ledgers.get(WALLETS_LEDGER))
    payments = Payments(sink)
    calls: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
    routes: list[Route] = []

    def route(method: str, path: str) -> Callable[[Handler], Handler]:
        """Register ``handler(request, **path params)``: plain Starlette routes,
        no per-request dependency solving or middleware tasks."""

        def register(handler: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                return await handler(request, **request.path_params)

            routes.append(Route(path, endpoint, methods=[method]))
            return handler

        return register

    def journal(scope: Scope, status: int, fault: str | None) -> None:
        calls.append(_entry(scope, status, fault))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %s", scope["method"], scope["path"], status)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if publisher is not None:
            await publisher.start()
        try:
            yield
        finally:
            if publisher is not None:
                await publisher.stop()

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SandboxError)
        return _error(exc)

    async def unrouted(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "NOT_FOUND" if exc.status_code == 404 else "VALIDATION"
        return _json({"errorCode": code, "errorMessage": str(exc.detail)}, exc.status_code)

    @route("GET", "/_info")
    async def info(request: Request) -> Response:
        return _json(
            {"name": "sandbox", "version": "0", "services": ["ledger", "wallets", "payments"]}
        )

    @route("GET", "/_healthcheck")
    async def health(request: Request) -> Response:
        return _json({})

    @route("GET", "/_sandbox/log")
    async def calls_log(request: Request) -> Response:
        return _json({"data": list(calls)})

    @route("GET", "/_sandbox/events")
    async def events_counts(request: Request) -> Response:
        if publisher is None:
            return _json({"enabled": False})
        counts = publisher.counts
        return _json(
            {
                "enabled": True,
                "topics": publisher.topics,
                "published": counts.published,
                "failed": counts.failed,
                "pending": publisher.pending,
            }
        )

    @route("GET", "/api/ledger/_info")
    async def ledger_info(request: Request) -> Response:
        return _json({"server": "sandbox", "version": "v2"})

    @route("GET", V2)
    async def list_ledgers(request: Request) -> Response:
        return _json(_cursor([ledger.view() for ledger in ledgers.all()], request))

    @route("POST", V2 + "/{name}")
    async def create_ledger(request: Request, name: str) -> Response:
        ledgers.create(name, await _body(request))
        return Response(status_code=204)

    @route("GET", V2 + "/{name}")
    async def get_ledger(request: Request, name: str) -> Response:
        return _json({"data": ledgers.get(name).view()})

    @route("POST", V2 + "/{name}/transactions")
    async def create_transaction(request: Request, name: str) -> Response:
        ledger = ledgers.get(name)
        body = await _body(request)
        key = request.headers.get("idempotency-key")
        stamp = fingerprint(["transactions", body])
        answer = ledger.replay(key, stamp)
        if answer is None:
            answer = {"data": ledger.create_transaction(body)}
            ledger.remember(key, stamp, answer)
        return _json(answer)

    @route("GET", V2 + "/{name}/transactions")
    async def list_transactions(request: Request, name: str) -> Response:
        # Newest first, as the ledger lists them.
        return _json(_cursor(list(reversed(ledgers.get(name).transactions)), request))

    @route("GET", V2 + "/{name}/transactions/{txid:int}")
    async def get_transaction(request: Request, name: str, txid: int) -> Response:
        txs = ledgers.get(name).transactions
        if not 0 <= txid < len(txs):
            raise SandboxError(404, "NOT_FOUND", f"transaction {txid} not found")
        return _json({"data": txs[txid]})

    @route("GET", V2 + "/{name}/accounts/{address}")
    async def get_account(request: Request, name: str, address: str) -> Response:
        account = ledgers.get(name).account(address)
        wanted = set(request.query_params.get("expand", "").split(","))
        data = {"address": address, "metadata": account["metadata"]}
        for view in ("volumes", "effectiveVolumes"):
            if view in wanted:
                data[view] = account[view]
        return _json({"data": data})

    @route("POST", V2 + "/{name}/accounts/{address}/metadata")
    async def add_metadata(request: Request, name: str, address: str) -> Response:
        ledger = ledgers.get(name)
        body = await _body(request)
        key = request.headers.get("idempotency-key")
        stamp = fingerprint(["metadata", address, body])
        if ledger.replay(key, stamp) is None:
            ledger.add_account_metadata(address, body)
            ledger.remember(key, stamp, True)
        return Response(status_code=204)

    @route("GET", "/api/ledger/{name}/accounts/{address}")
    async def get_account_v1(request: Request, name: str, address: str) -> Response:
        account = ledgers.get(name).account(address)
        fields = ("address", "metadata", "volumes", "balances")
        return _json({"data": {k: account[k] for k in fields}})

    async def once(request: Request, apply: Any) -> Any:
        """Apply a wallets write once per Idempotency-Key, as the ledger does."""
        body = await _body(request)
        key = request.headers.get("idempotency-key")
        stamp = fingerprint(["wallets", request.url.path, body])
        ledger = wallets.ledger
        answer = ledger.replay(key, stamp)
        if answer is None:
            answer = {"value": apply(body)}
            ledger.remember(key, stamp, answer)
        return answer["value"]

    @route("POST", W + "/wallets")
    async def create_wallet(request: Request) -> Response:
        return _json({"data": await once(request, wallets.create)}, 201)

    @route("GET", W + "/wallets")
    async def list_wallets(request: Request) -> Response:
        return _json(_cursor(wallets.find(request.query_params.get("name")), request))

    @route("GET", W + "/wallets/{wallet}")
    async def get_wallet(request: Request, wallet: str) -> Response:
        return _json({"data": wallets.get(wallet)})

    @route("GET", W + "/wallets/{wallet}/balances")
    async def list_balances(request: Request, wallet: str) -> Response:
        return _json(_cursor(wallets.balances(wallet), request))

    @route("POST", W + "/wallets/{wallet}/balances")
    async def create_balance(request: Request, wallet: str) -> Response:
        made = await once(request, lambda body: wallets.create_balance(wallet, body))
        return _json({"data": made}, 201)

    @route("GET", W + "/wallets/{wallet}/balances/{balance}")
    async def get_balance(request: Request, wallet: str, balance: str) -> Response:
        return _json({"data": wallets.balance(wallet, balance)})

    @route("POST", W + "/wallets/{wallet}/credit")
    async def credit_wallet(request: Request, wallet: str) -> Response:
        await once(request, lambda body: wallets.credit(wallet, body))
        return Response(status_code=204)

    @route("POST", W + "/wallets/{wallet}/debit")
    async def debit_wallet(request: Request, wallet: str) -> Response:
        hold = await once(request, lambda body: wallets.debit(wallet, body))
        # 204 for an immediate debit, 201 with the hold for a pending one.
        return Response(status_code=204) if hold is None else _json({"data": hold}, 201)

    @route("GET", W + "/holds")
    async def list_holds(request: Request) -> Response:
        return _json(_cursor(wallets.holds(request.query_params.get("walletID")), request))

    @route("GET", W + "/holds/{hold}")
    async def get_hold(request: Request, hold: str) -> Response:
        return _json({"data": wallets.hold(hold)})

    @route("POST", W + "/holds/{hold}/confirm")
    async def confirm_hold(request: Request, hold: str) -> Response:
        await once(request, lambda body: wallets.confirm(hold, body))
        return Response(status_code=204)

    @route("POST", W + "/holds/{hold}/void")
    async def void_hold(request: Request, hold: str) -> Response:
        await once(request, lambda body: wallets.void(hold))
        return Response(status_code=204)

    @route("POST", P + "/payments")
    async def create_payment(request: Request) -> Response:
        return _json({"data": payments.create_payment(await _body(request))})

    @route("GET", P + "/payments/{payment}")
    async def get_payment(request: Request, payment: str) -> Response:
        return _json({"data": payments.payment(payment)})

    @route("POST", P + "/transfer-initiations")
    async def create_transfer(request: Request) -> Response:
        return _json({"data": payments.create_transfer(await _body(request))})

    @route("GET", P + "/transfer-initiations")
    async def list_transfers(request: Request) -> Response:
        raw = request.query_params.get("query")
        match: Any = {}
        if raw:
            try:
                match = codec.loads(raw).get("$match", {})
            except (ValueError, AttributeError):
                raise SandboxError(400, "VALIDATION", "query must be a JSON object") from None
        if not isinstance(match, dict):
            raise SandboxError(400, "VALIDATION", "only a $match of fields is supported")
        return _json(_cursor(payments.transfers(match), request))

    @route("GET", P + "/transfer-initiations/{transfer}")
    async def get_transfer(request: Request, transfer: str) -> Response:
        return _json({"data": payments.transfer(transfer)})

    app = Starlette(
        routes=routes,
        exception_handlers={SandboxError: refused, HTTPException: unrouted},
        lifespan=lifespan,
    )
    wrapped: App = Faults(app, settings, journal)
    return wrapped


def _entry(scope: Scope, status: int, fault: str | None) -> dict[str, Any]:
    headers = dict(scope.get("headers") or [])
    key = headers.get(b"idempotency-key")
    return {
        "method": scope["method"],
        "path": scope["path"],
        "idempotencyKey": key.decode("latin-1") if key is not None else None,
        "status": status,
        "fault": fault,
    }
