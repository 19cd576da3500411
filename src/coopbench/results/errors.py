"""Errors of the results store and submission format: one line naming the file or field."""

from __future__ import annotations


class StoreError(ValueError):
    """The results store cannot be used: corrupt, foreign, newer, locked or inconsistent."""


class SubmissionError(StoreError):
    """A submission document is malformed or violates ``schema.json``."""
