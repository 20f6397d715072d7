"""The worker process: batch loops that match events and project history."""

from engine.worker.process import Worker

__all__ = ["Worker"]
