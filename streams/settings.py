"""Kafka settings, read from `ORCHESTRATION_*` environment variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATION_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Inbound topics to consume, space- or comma-separated like upstream's
    # TOPICS (for a Formance stack: "acme.ledger acme.payments").
    topics: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["ledger", "payments"])
    # Prefix for this service's own topics (definitions, commands, history, ...).
    topic_prefix: str = ""
    # Partitions for topics this service creates; the unit of parallelism of a
    # consumer group (more workers than partitions sit idle).
    partitions: int = Field(default=4, ge=1, le=1024)
    consumer_group: str = "orchestration"
    # Larger events are dead-lettered instead of processed: an unbounded event
    # would let one producer exhaust a worker's memory.
    max_event_bytes: int = Field(default=1_048_576, ge=1024)
    # Lifecycle events on the `orchestration` topic (BEHAVIOUR 10); off for a
    # deployment where nothing consumes them.
    publish_events: bool = True

    @property
    def max_record_bytes(self) -> int:
        """The largest record the service itself writes (a history record holds
        its event and the trigger's variables): twice an event, at least 1 MiB.
        Topics are created to accept it and producers to send it, with
        `RECORD_BATCH_OVERHEAD` bytes to spare."""
        return max(2 * self.max_event_bytes, 1_048_576)

    @field_validator("topics", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [t for t in value.replace(",", " ").split() if t]
        return value


# Room for the record batch framing around the largest record (about 100
# bytes, plus headers): 64 KiB is far more than any header set we write.
RECORD_BATCH_OVERHEAD = 65_536

# What one fetch may return across partitions at least (aiokafka's default, 50 MiB).
FETCH_MAX_BYTES = 52_428_800
