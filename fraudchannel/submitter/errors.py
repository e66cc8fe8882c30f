"""What can go wrong in a submit run: a usage problem (exit 2) or a batch's transport failure."""

from __future__ import annotations

import click


class UsageProblem(click.UsageError):
    """A flag, the input or the key file cannot be used (exit 2)."""


class TransientError(Exception):
    """Worth retrying with the same Idempotency-Key: 429, 5xx, timeout, broken connection."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BatchRefused(Exception):
    """The service refused this batch for good (413, 415, 422, ...): `status`, `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class FatalError(Exception):
    """No batch can succeed (credentials or scope refused): stop the run."""
