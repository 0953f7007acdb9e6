"""Errors the user caused and can fix (bad input data, a corrupt model folder): the CLI prints them, no traceback."""

from __future__ import annotations


class ModelError(ValueError):
    """A user-caused problem with input data or an exported model; the message says what to do."""


class EmptySplitError(ModelError):
    """A TFRecord split has no images (ingest of a small image folder)."""
