"""The no-Docker local stack: a real Kafka broker and a real PostgreSQL."""

from compose.localstack._process import LocalStackError, free_port
from compose.localstack.kafka import KAFKA_VERSION, KafkaBroker
from compose.localstack.postgres import PostgresCluster

__all__ = ["KAFKA_VERSION", "KafkaBroker", "LocalStackError", "PostgresCluster", "free_port"]
