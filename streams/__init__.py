"""Kafka edge: topic names, the event envelope, the Faust app factory.

No business rules live here; every other package may import it.
"""

from streams import codec
from streams.app import create_app, raw_topic
from streams.batches import BatchConsumer, Record
from streams.envelope import Envelope, MalformedEvent, decode_envelope, format_time, new_envelope
from streams.settings import KafkaSettings
from streams.topics import Topics, ensure_topics

__all__ = [
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
]
