"""The builder's error type."""
from __future__ import annotations


class BundleError(Exception):
    """A failure with a message that says what to do."""
