"""Errors the service raises on purpose; each renders as an RFC 9457 problem document."""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://fraudchannel.example/problems/"


class FraudChannelError(Exception):
    """Something went wrong on our side."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or (self.__doc__ or self.title).strip())
        self.detail = str(self.args[0])
        self.extensions = extensions  # rendered as RFC 9457 extension members
        self.headers: dict[str, str] = {}

    @property
    def type_uri(self) -> str:
        """Return the problem type URI (RFC 9457 §3.1.1)."""
        return PROBLEM_BASE + self.slug

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """Return the problem document: type, title, status, detail, instance, extensions."""
        doc: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        doc.update(self.extensions)
        return doc


class BadRequest(FraudChannelError):
    """The request could not be read."""

    status, slug, title = 400, "bad-request", "Bad request"


class ValidationFailed(FraudChannelError):
    """The request body does not match the schema; `errors` lists each problem with a pointer."""

    status, slug, title = 422, "validation-failed", "Validation failed"


class IdempotencyKeyReused(FraudChannelError):
    """This Idempotency-Key was already used with a different request body."""

    status, slug, title = 422, "idempotency-key-reused", "Idempotency key reused"


class UnsupportedMediaType(FraudChannelError):
    """The request body must be application/json."""

    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class PayloadTooLarge(FraudChannelError):
    """The request body is larger than the service accepts."""

    status, slug, title = 413, "payload-too-large", "Payload too large"


class NotFound(FraudChannelError):
    """No such resource is visible to you."""

    status, slug, title = 404, "not-found", "Not found"


class Conflict(FraudChannelError):
    """The request conflicts with the current state."""

    status, slug, title = 409, "conflict", "Conflict"


class Unauthorized(FraudChannelError):
    """A valid access token is required (RFC 6750 §3)."""

    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(
        self, detail: str | None = None, *, error: str = "invalid_token", **extensions: Any
    ) -> None:
        super().__init__(detail, **extensions)
        self.error = error
        if error == "missing":
            # RFC 6750 §3.1: no error code when the request carried no credentials.
            self.headers["WWW-Authenticate"] = 'Bearer realm="fraudchannel"'
        else:
            escaped = self.detail.replace("\\", "\\\\").replace('"', '\\"')
            self.headers["WWW-Authenticate"] = (
                f'Bearer realm="fraudchannel", error="{error}", error_description="{escaped}"'
            )


class Forbidden(FraudChannelError):
    """The access token does not carry the scope this route needs (RFC 6750 §3.1)."""

    status, slug, title = 403, "insufficient-scope", "Insufficient scope"

    def __init__(self, detail: str | None = None, *, scope: str = "", **extensions: Any) -> None:
        super().__init__(detail, required_scope=scope, **extensions)
        self.headers["WWW-Authenticate"] = (
            f'Bearer realm="fraudchannel", error="insufficient_scope", scope="{scope}"'
        )


class MigrationError(FraudChannelError):
    """The database schema cannot be brought up to date safely."""

    slug, title = "migration-error", "Migration error"


class NotReady(FraudChannelError):
    """The service cannot serve yet."""

    status, slug, title = 503, "not-ready", "Not ready"


class Unavailable(FraudChannelError):
    """The service cannot take this request now; nothing was stored. Retry after a moment with
    the same request (and Idempotency-Key)."""

    status, slug, title = 503, "unavailable", "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 1, **ext: Any) -> None:
        super().__init__(detail, **ext)
        self.headers["Retry-After"] = str(retry_after_s)  # RFC 9110 §10.2.3
