"""The `orchestration` command line.

`dev` runs the whole local stack; `api`, `worker` and `migrate` are the
production processes, configured only by `ORCHESTRATION_*` variables;
`publish` sends events to Kafka for people trying the service;
`sandbox` serves an in-memory stand-in of the Formance stack's ledger paths;
`dead-letters` lists and replays the events the worker rejected; `replay`
replays past events into one trigger (an extension, `compose.replay`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from compose.deadletters.cli import app as dead_letters_app
from compose.logs import configure_logging
from streams import codec

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from engine.worker import Worker

app = typer.Typer(
    name="orchestration",
    help=(
        "Event-driven trigger processor on Kafka (Formance orchestration compatible). "
        "The api, worker and migrate processes are configured by ORCHESTRATION_* "
        "environment variables (see the README's Configuration table)."
    ),
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(dead_letters_app, name="dead-letters")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"orchestration {version('orchestration')}")
        raise typer.Exit


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Global options."""


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="API port on 127.0.0.1")] = 8080,
    state_dir: Annotated[
        Path,
        typer.Option(help="Where the env and pids files go, and with --keep the data"),
    ] = Path(".orchestration/dev"),
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help=(
                "Keep Kafka's and PostgreSQL's data across runs, in STATE_DIR/kafka and "
                "STATE_DIR/postgres (delete them to start over). Without it every run "
                "starts empty, in temp dirs removed on stop."
            ),
        ),
    ] = False,
    topics: Annotated[str, typer.Option(help="Inbound topics, space-separated")] = (
        "ledger payments"
    ),
) -> None:
    """Run Kafka, PostgreSQL, migrations, the worker and the API until Ctrl-C."""
    from compose.devstack import DevStack
    from compose.localstack import LocalStackError

    configure_logging()
    stack = DevStack(state_dir=state_dir, api_port=port, topics=topics, keep=keep)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    try:
        mode = (
            f"kept state in {state_dir.resolve()} (--keep)"
            if keep
            else "fresh state, removed on stop (--keep to keep it)"
        )
        typer.echo(f"starting PostgreSQL, Kafka, the worker and the API: {mode} ...", err=True)
        stack.start()
        env = stack.env()
        typer.echo(
            f"ready: api={env['ORCHESTRATION_API_URL']} "
            f"worker=http://127.0.0.1:{env['ORCHESTRATION_WORKER_METRICS_PORT']} "
            f"kafka={env['ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS']} "
            f"database={env['ORCHESTRATION_DATABASE_URL']}",
        )
        typer.echo(
            f"(started in {time.monotonic() - started:.1f}s; env in {state_dir / 'env'}; "
            "Ctrl-C stops everything)",
            err=True,
        )
        sys.stdout.flush()
        while not stopping:
            stack.watch()  # restarts a dead worker; raises if the API or sandbox died
            time.sleep(0.2)
    except LocalStackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        typer.echo("stopping ...", err=True)
        stack.stop()
        typer.echo("stopped", err=True)


@app.command()
def api() -> None:
    """Serve the REST API (v1 at /, v2 at /v2); configured by ORCHESTRATION_* variables."""
    import uvicorn

    from api import ApiSettings, create_app

    configure_logging()
    settings = ApiSettings()
    application = create_app(settings)
    config = uvicorn.Config(
        application,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # As before httptools and uvloop were installed for the sandbox:
        # the API's limits and hostile-input tests were proven under h11;
        # switching it is its own change, measured by benchmarks/api.py.
        http="h11",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    application.state.request_exit = lambda: setattr(server, "should_exit", True)
    server.run()
    if getattr(application.state, "fatal", None) is not None:
        raise SystemExit(1)  # a background loop died: the supervisor restarts us


@app.command()
def worker() -> None:
    """Consume inbound events, match triggers, project history into Postgres; configured by
    ORCHESTRATION_* variables."""
    configure_logging()
    asyncio.run(_run_worker())


async def _run_worker() -> None:
    from pydantic import Field
    from pydantic_settings import BaseSettings, SettingsConfigDict

    from engine.db import create_db_engine
    from engine.settings import DatabaseSettings
    from engine.worker import Worker
    from engine.worker.probes import ProbeServer
    from streams import KafkaSettings

    class WorkerSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="ORCHESTRATION_", extra="ignore")
        # The worker's /metrics, /healthz and /readyz (127.0.0.1); 0 disables them.
        worker_metrics_port: int = Field(default=0, ge=0, le=65535)
        # /healthz fails when a batch loop has had records waiting and
        # completed no batch for this long (a wedged handler, a database down).
        worker_stall_seconds: float = Field(default=120.0, gt=0)
        # Broker unreachable, topics not created, a changelog not read back:
        # the worker exits 1 after this long instead of hanging unready.
        worker_start_seconds: float = Field(default=300.0, gt=0)

    db = create_db_engine(DatabaseSettings())
    runtime = Worker(KafkaSettings(), db)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from aiokafka.errors import KafkaConnectionError
    from sqlalchemy.exc import OperationalError

    # A SIGTERM while starting (its broker gone with the dev stack, say) ends
    # the start, and so does a start that outlasts its bound: before, a worker
    # whose broker went away mid-start waited for ever (one outlived its dev
    # stack by two hours), never ready and never dead.
    worker_settings = WorkerSettings()
    starting = asyncio.create_task(runtime.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait(
        [starting, stopping],
        timeout=worker_settings.worker_start_seconds,
        return_when=asyncio.FIRST_COMPLETED,
    )
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(BaseException):
            await starting
        await _shut_down(runtime, db)
        if stopping.done():
            return
        limit = worker_settings.worker_start_seconds
        typer.echo(f"error: cannot start the worker: not started within {limit:.0f} s", err=True)
        raise SystemExit(1)
    stopping.cancel()
    try:
        starting.result()
    except (KafkaConnectionError, OperationalError, OSError) as exc:
        # Say what is unreachable in one line; a supervisor restarts us.
        typer.echo(f"error: cannot start the worker: {exc}", err=True)
        await db.dispose()
        raise SystemExit(1) from None
    freezing = asyncio.create_task(_freeze_when_ready(runtime))
    port, stall = worker_settings.worker_metrics_port, worker_settings.worker_stall_seconds
    probes = (
        ProbeServer(
            port, lambda: runtime.loops, runtime.reader.ready, lambda: runtime.stalls(stall)
        )
        if port
        else None
    )
    if probes is not None:
        await probes.start()
    stopping = asyncio.create_task(stop.wait())
    died = asyncio.create_task(runtime.wait_for_death())
    try:
        await asyncio.wait([stopping, died], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        died.cancel()
        freezing.cancel()
        if probes is not None:
            await probes.stop()
        await _shut_down(runtime, db)
    if died.done() and not died.cancelled():
        raise SystemExit(1)


# The collector's thresholds once the worker runs (CPython's are 700, 10, 10).
# A batch holds up to 2,000 records' objects alive at once, so with 700 every
# young pass promoted batch garbage, and the live instances' states grew the
# old generation: in a burst of 20,000 starts collections took 90-180 ms of
# every second (full passes 40-130 ms each). With 50,000 they take 10-30 ms
# (one young pass of 9-29 ms every 0.5-1 s), the worker's CPU per start fell
# from 333 to 294 µs and one worker started 2,739/s instead of 2,311/s
# (benchmarks/engine.py); peak RSS was unchanged (233 MiB).
WORKER_GC_THRESHOLD = (50_000, 20, 10)


async def _freeze_when_ready(runtime: Worker) -> None:
    """Once the trigger index is loaded, what exists lives as long as the
    process: keep it out of the collector's full passes. Before, each full
    pass over the worker's heap stopped every loop for 80-126 ms, and four
    of them in 20 s were the p99 of produce -> occurrence visible. Then the
    collector runs less often (`WORKER_GC_THRESHOLD`)."""
    await runtime.reader.ready.wait()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*WORKER_GC_THRESHOLD)


# Each loop stops within 10 s (streams.lifecycle); a broker or database that
# went away must not hold the exit longer than this.
SHUTDOWN_S = 30.0


async def _shut_down(runtime: Worker, db: AsyncEngine) -> None:
    try:
        await asyncio.wait_for(runtime.stop(), SHUTDOWN_S)
    except TimeoutError:
        typer.echo(f"warning: worker stop took over {SHUTDOWN_S:.0f} s, exiting", err=True)
    await db.dispose()


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 8081,
    latency: Annotated[float | None, typer.Option(help="Seconds added to every call")] = None,
    error_rate: Annotated[float | None, typer.Option(help="Share of calls answered 503")] = None,
    drop_rate: Annotated[
        float | None, typer.Option(help="Share of writes applied, then their reply dropped")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the fault draws")] = None,
    kafka_bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers: publish the stack's events there")
    ] = None,
) -> None:
    """Serve the in-memory Formance stack sandbox (ledger paths, fault injection, events)."""
    import uvicorn

    from compose.sandbox import SandboxSettings, create_app

    configure_logging()
    flags = {
        "latency": latency,
        "error_rate": error_rate,
        "drop_rate": drop_rate,
        "seed": seed,
        "kafka_bootstrap": kafka_bootstrap,
    }
    # Flags override the ORCHESTRATION_SANDBOX_* variables they are given for.
    given = {k: v for k, v in flags.items() if v is not None}
    from pydantic import ValidationError

    try:
        settings = SandboxSettings.model_validate({**SandboxSettings().model_dump(), **given})
    except ValidationError as exc:
        # One line per bad setting, not a traceback.
        for error in exc.errors():
            typer.echo(f"error: {'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    from compose.sandbox.app import UVICORN_OPTIONS

    typer.echo(f"sandbox on http://127.0.0.1:{port} (in memory, not a ledger)", err=True)
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        **UVICORN_OPTIONS,
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations and exit; configured by ORCHESTRATION_DATABASE_URL."""
    from engine.db import migrate as run_migrations
    from engine.settings import DatabaseSettings

    configure_logging()
    run_migrations(DatabaseSettings().database_url.get_secret_value())
    typer.echo("migrations applied")


@app.command()
def publish(
    topic: Annotated[str, typer.Option(help="Kafka topic")],
    source: Annotated[str, typer.Argument(help="JSON file, JSON-lines file, or - for stdin")] = "-",
) -> None:
    """Publish one JSON event (or a JSON-lines file of them) to Kafka.

    The broker: ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS, else the running
    `orchestration dev` whose env file is in ORCHESTRATION_DEV_DIR (its
    --state-dir), else the nearest .orchestration/dev/env from the working
    directory upwards.
    """
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        events = _parse_events(text)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _load_dev_env()
    from aiokafka.errors import KafkaError

    try:
        count = asyncio.run(_publish(topic, events))
    except KafkaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"published {count} event(s) to {topic}")


@app.command()
def replay(
    trigger: Annotated[str, typer.Option(help="Trigger id")],
    from_: Annotated[str, typer.Option("--from", help="RFC 3339: replay events from this time on")],
    to: Annotated[
        str | None, typer.Option(help="RFC 3339, inclusive; default: up to the end now")
    ] = None,
) -> None:
    """Replay past inbound events into one trigger, straight from Kafka (an extension).

    Kafka as for `publish`; with ORCHESTRATION_DATABASE_URL, occurrences already
    recorded are skipped. Prints progress to stderr and a summary at the end.
    """
    from compose.replay import ReplayFailed, summary
    from compose.replay import replay as run
    from engine import DatabaseSettings, ReplayError, ReplayWindow
    from streams import KafkaSettings

    try:
        window = ReplayWindow.parse(from_, to)
    except ReplayError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _load_dev_env()
    configure_logging()  # to stderr: stdout carries the summary
    from aiokafka.errors import KafkaError

    try:
        database = DatabaseSettings() if "ORCHESTRATION_DATABASE_URL" in os.environ else None
        progress = asyncio.run(run(KafkaSettings(), trigger, window, database=database))
    except (ReplayFailed, KafkaError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for line in summary(progress):
        typer.echo(line)


def _load_dev_env() -> None:
    """Point at a running `orchestration dev` unless the environment names a broker."""
    from compose.devenv import DevEnvNotFound, find_dev_env, read_dev_env

    if "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS" in os.environ:
        return
    try:
        env_file = find_dev_env(Path.cwd(), os.environ)
    except DevEnvNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for key, value in read_dev_env(env_file).items():
        os.environ.setdefault(key, value)


def _parse_events(text: str) -> list[Any]:
    with contextlib.suppress(ValueError):
        return [codec.loads(text)]
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                events.append(codec.loads(line))
            except ValueError as exc:
                raise ValueError(f"line {number} is not JSON: {exc}") from None
    if not events:
        raise ValueError("no event to publish")
    return events


async def _publish(topic: str, events: list[Any]) -> int:
    from aiokafka import AIOKafkaProducer

    from streams import KafkaSettings

    producer = AIOKafkaProducer(
        bootstrap_servers=KafkaSettings().kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, codec.dumps(event))
    finally:
        await producer.stop()
    return len(events)


if __name__ == "__main__":
    app()
