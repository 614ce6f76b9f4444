"""Errors raised while loading models and texts or extracting token vectors.

Every message names the fix. All are `ValueError` subclasses so callers that only know about bad
input can catch `ValueError`.
"""

from __future__ import annotations


class ExtractError(ValueError):
    """Base class of the errors raised by `lidscope.extract`."""


class ModelLoadError(ExtractError):
    """A model or tokenizer could not be loaded from a local folder."""


class DataError(ExtractError):
    """A text source is missing, empty, badly encoded or lacks the requested column/split."""


class ExtractionError(ExtractError):
    """The forward pass produced no usable token vectors (e.g. every token was filtered out)."""
