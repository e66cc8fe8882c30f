"""The one exception of the embedded PostgreSQL."""

from __future__ import annotations


class EmbeddedPostgresError(RuntimeError):
    """Raise when the embedded server cannot be found, initialised, started or stopped."""
