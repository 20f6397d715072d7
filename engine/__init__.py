"""Workflows: definitions, matching, the worker's agents, the Postgres projection."""
