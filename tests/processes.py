"""Environment for the production processes started as subprocesses by tests."""

from __future__ import annotations

import os

from streams import KafkaSettings


def process_env(kafka: KafkaSettings, database_url: str, **extra: str) -> dict[str, str]:
    """`ORCHESTRATION_*` variables pointing a process at these Kafka settings and database."""
    return {
        **os.environ,
        "ORCHESTRATION_KAFKA_BOOTSTRAP_SERVERS": kafka.kafka_bootstrap_servers,
        "ORCHESTRATION_TOPICS": ",".join(kafka.topics),
        "ORCHESTRATION_TOPIC_PREFIX": kafka.topic_prefix,
        "ORCHESTRATION_CONSUMER_GROUP": kafka.consumer_group,
        "ORCHESTRATION_PARTITIONS": str(kafka.partitions),
        "ORCHESTRATION_DATABASE_URL": database_url,
        **{f"ORCHESTRATION_{key.upper()}": value for key, value in extra.items()},
    }
