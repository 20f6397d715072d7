"""The `dead-letters` sub-app of the `orchestration` command line.

Configured like `publish`: ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS, else the
running `orchestration dev`'s env file; topic names take
ORCHESTRATION_TOPIC_PREFIX.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from compose.deadletters.letters import Newest, Outcome, Summary, Tally
from streams import KafkaSettings, codec

app = typer.Typer(
    help="List or replay the events the worker dead-lettered (malformed, oversized, typeless).",
    no_args_is_help=True,
)

Reason = Annotated[
    str | None, typer.Option(help="Only dead letters whose reason contains this text")
]


def _settings() -> KafkaSettings:
    from compose.cli import _load_dev_env

    _load_dev_env()
    return KafkaSettings()


@app.command("list")
def list_(
    reason: Reason = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Print dead letters, newest first: offset, time, size, source, reason, first bytes.

    One line each: partition/offset in the dead-letter topic, when it was
    written, the value's size, the `source` and `reason` headers, and the
    first 80 characters of the value with unprintable characters escaped.
    """
    from aiokafka.errors import KafkaError

    settings = _settings()

    async def collect() -> list[Summary]:
        from compose.deadletters.kafka import dead_letters

        newest = Newest(limit)
        async for letter in dead_letters(settings):
            if letter.matches(reason):
                newest.add(Summary.of(letter))
        return newest.newest_first()

    try:
        summaries = asyncio.run(collect())
    except KafkaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if not summaries:
        typer.echo("no dead letters")
    for summary in summaries:
        typer.echo(codec.dumps(summary.to_json()).decode() if as_json else summary.line())


@app.command()
def replay(
    reason: Reason = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be replayed; write nothing")
    ] = False,
) -> None:
    """Send each selected dead letter's original bytes back to its source topic, once.

    The record carries a `dead_letter_replay` header naming the dead letter;
    replayed letters are remembered in the `<dead-letter topic>.replayed`
    compacted topic, so running replay again re-injects nothing.
    """
    from aiokafka.errors import KafkaError

    from compose.deadletters.kafka import ReplayFenced, Step
    from compose.deadletters.kafka import replay as run_replay

    settings = _settings()
    tally = Tally()

    def progress(step: Step) -> None:
        failed = step.error is not None
        tally.count(None if failed else step.outcome)
        if step.outcome is Outcome.REPLAY and not failed:
            verb = "would replay" if dry_run else "replayed"
            typer.echo(f"{verb} {step.letter.coordinates} -> {step.letter.source}")
        elif step.outcome is Outcome.ALREADY_REPLAYED:
            typer.echo(f"skipped {step.letter.coordinates}: already replayed")
        else:
            why = step.error or step.outcome.value
            typer.echo(f"failed {step.letter.coordinates} ({step.letter.source}): {why}")

    try:
        asyncio.run(run_replay(settings, reason=reason, dry_run=dry_run, progress=progress))
    except ReplayFenced:
        typer.echo(tally.line(dry_run=dry_run))
        typer.echo("error: another `dead-letters replay` started and took over", err=True)
        raise typer.Exit(1) from None
    except KafkaError as exc:
        typer.echo(tally.line(dry_run=dry_run))
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    # Failures are reported, not fatal: a letter whose source topic is gone
    # would otherwise make every later replay exit non-zero.
    typer.echo(tally.line(dry_run=dry_run))
