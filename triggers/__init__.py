"""Pure trigger domain: expressions, trigger model, index, matcher, identities.

No I/O except the `fetch` callable handed to `link()`; never imports engine or api.
"""

from triggers.identity import derived_id, event_identity, instance_id, occurrence_id
from triggers.index import TriggerIndex
from triggers.matcher import FilterFailure, Match, evaluate
from triggers.model import (
    CompiledTrigger,
    InvalidTrigger,
    Trigger,
    TriggerError,
    compile_trigger,
)

__all__ = [
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
]
