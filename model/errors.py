"""Errors the user caused and can fix (bad input data, a corrupt model folder): the CLI prints them, no traceback."""

from __future__ import annotations

from firewatch.errors import ModelError

__all__ = ["EmptySplitError", "FeedbackDataError", "ModelError"]


class EmptySplitError(ModelError):
    """A TFRecord split has no images (ingest of a small image folder)."""


class FeedbackDataError(ModelError):
    """A feedback export folder is missing, empty or inconsistent with its manifest."""
