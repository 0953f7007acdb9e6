"""Errors a user can cause and fix: the CLI prints them without a traceback (exit 2).

Every layer raises these; only the CLI catches them, so no module needs to import the CLI.
"""

from __future__ import annotations


class UserError(Exception):
    """An error the user caused and can fix; printed without a traceback."""


class ConfigError(ValueError):
    """Invalid configuration values; the message lists every field that is wrong."""


class ModelError(ValueError):
    """A model directory, its data or its metadata is not usable; the message says how to fix it."""
