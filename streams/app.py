"""The Faust application factory: one place for every broker setting."""

from __future__ import annotations

from typing import Any

import faust

from streams.settings import KafkaSettings


def create_app(
    settings: KafkaSettings, *, app_id: str | None = None, **overrides: Any
) -> faust.App:
    """A Faust app bound to the configured broker and consumer group.

    The app id is the consumer group: every worker started with the same
    settings shares the inbound, commands and history partitions.
    """
    options: dict[str, Any] = {
        "broker": f"kafka://{settings.kafka_bootstrap_servers}",
        # Faust's web server binds 0.0.0.0:6066 by default; the API is FastAPI.
        "web_enabled": False,
        # A worker that dies is noticed, and its partitions reassigned, in 10 s.
        "broker_session_timeout": 10,
        "broker_heartbeat_interval": 3,
        # A new consumer group starts at the beginning of each topic: events
        # published before the first worker joined are still processed.
        "consumer_auto_offset_reset": "earliest",
        # Offsets are committed at most this often, and only for acked events
        # (an event is acked once its batch is fully handled).
        "broker_commit_every": 1000,
        "broker_commit_interval": 1.0,
        "producer_acks": -1,
        "topic_partitions": settings.partitions,
        "topic_replication_factor": 1,
        "topic_allow_declare": True,
        "store": "memory://",
        "table_standby_replicas": 0,
    }
    options.update(overrides)
    return faust.App(app_id or settings.consumer_group, **options)


def raw_topic(app: faust.App, name: str, *, partitions: int | None = None) -> faust.TopicT:
    """A topic whose keys and values reach agents as the bytes on the wire."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=False,
    )
