"""Errors raised by the workflow configuration schema.

    ConfigError                 root of this package
    ├── WorkflowConfigError     a definition is rejected at creation (POST /workflows)
    └── StageError              a stage cannot be resolved at run time (fails the stage)

Neither is retryable: the same input always gives the same answer. The mapping
to HTTP codes (400 ``VALIDATION``) belongs to ``api/``.
"""

from __future__ import annotations


class ConfigError(Exception):
    """Root of the workflow configuration errors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WorkflowConfigError(ConfigError):
    """A workflow definition does not validate.

    ``stage`` is the 0-based index of the offending stage (``None`` for a
    top-level problem) and ``field`` the dotted JSON path inside the stage body
    (or the top-level key), ``None`` when the problem concerns the whole stage.
    """

    def __init__(self, message: str, *, stage: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.field = field


class StageError(ConfigError):
    """A stage failed interpolation, coercion or validation at run time.

    The message is what upstream stores as the stage and instance ``error``
    (go-playground validator lines joined by ``\\n``, or a ``resolving field``
    chain); the stage never starts, so it gets no history entry.
    """
