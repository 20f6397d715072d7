"""Base class of the resolved stage models."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from engine.config._schema import Reader, Violation


class Model(BaseModel):
    """Immutable, closed pydantic model used for every resolved part of a stage."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ResolvedStage(Model):
    """A stage after interpolation, coercion, defaults and validation.

    Subclasses give the stage name as written in a workflow (``send``), the
    name of its history entry (``RunSend``) and upstream's Go struct name,
    which prefixes validation messages (``Key: 'Send.Source...'``).
    """

    stage_name: ClassVar[str]
    history_name: ClassVar[str]
    go_name: ClassVar[str]

    @classmethod
    @abstractmethod
    def read(cls, body: Reader) -> Self:
        """Coerce a raw stage body; raises ``CoercionFailure``."""

    @abstractmethod
    def violations(self) -> list[Violation]:
        """Validation problems of this stage (empty when valid)."""

    @abstractmethod
    def history_input(self) -> dict[str, Any]:
        """The stage as rendered in its history entry's ``input`` (BEHAVIOUR.md 4.5)."""
