"""How a route describes itself in the OpenAPI document (fraudchannel.openapi builds it).

Each route of a ScopedRoutes table carries an ApiDoc beside its method, path and scope: a summary,
its request parts (body, query, path and header parameters, as pydantic models where they have a
shape) and the answers particular to it. The generator adds what every route of a kind answers:
on a scoped route the Bearer problems of http/auth.py (400, 401, 403 when it needs a real scope)
and the 503 of an unavailable database (http/middleware.py), and `X-Request-Id` everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel

from fraudchannel.api_models import Problem, ScopeProblem
from fraudchannel.http.render import PROBLEM_JSON

JSON: Final = "application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer of a route: status, when it is given, its body's model and its headers.

    `headers` name entries of RESPONSE_HEADERS. Several replies with one status are documented
    as one response listing each case.
    """

    status: int
    description: str
    model: type[BaseModel] | None = None
    media_type: str = JSON
    headers: tuple[str, ...] = ()


def problem(
    status: int, description: str, model: type[Problem] = Problem, headers: tuple[str, ...] = ()
) -> Reply:
    """Return the Reply of an RFC 9457 problem document (application/problem+json)."""
    return Reply(status, description, model, PROBLEM_JSON, headers)


@dataclass(frozen=True, slots=True)
class Header:
    """A request header a route reads: name, meaning and JSON Schema of its value."""

    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True, slots=True)
class ApiDoc:
    """What the OpenAPI document says of a route besides its method, path and scope.

    `description` defaults to the handler's docstring. `body` is the request body's model (in
    `body_media_type`); the fields of `query` and `path` become query and path parameters.
    """

    summary: str
    replies: tuple[Reply, ...]
    description: str | None = None
    body: type[BaseModel] | None = None
    body_media_type: str = JSON
    body_description: str | None = None
    query: type[BaseModel] | None = None
    path: type[BaseModel] | None = None
    headers: tuple[Header, ...] = ()


# Response headers that replies name (components/headers of the document).
RESPONSE_HEADERS: Final[dict[str, dict[str, Any]]] = {
    "X-Request-Id": {
        "description": "The request's id: yours when you sent a plain one (1-128 of "
        "A-Za-z0-9._:-), else one made for it. Every log line of the request carries it.",
        "schema": {"type": "string", "maxLength": 128},
    },
    "WWW-Authenticate": {
        "description": "The challenge (RFC 6750 §3; on the token endpoint, the client "
        "authentication method private_key_jwt).",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before sending the same request again (RFC 9110 §10.2.3).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Accept-Encoding": {
        "description": "The content codings the service reads (RFC 9110 §12.5.3).",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "How long the answer may be cached, if at all.",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "true when the answer is the stored one of an earlier request with the "
        "same Idempotency-Key and body: nothing was stored this time.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Pragma": {
        "description": "no-cache, for HTTP/1.0 caches (RFC 6749 §5.1).",
        "schema": {"type": "string"},
    },
}

# Added by the generator to every scoped route (http/auth.py, http/middleware.py).
MALFORMED_AUTHORIZATION: Final = problem(
    400,
    "The Authorization header is malformed: several headers, or Bearer without exactly one "
    'token (RFC 6750 §3.1 `error="invalid_request"` in WWW-Authenticate).',
    headers=("WWW-Authenticate",),
)
UNAUTHORIZED: Final = problem(
    401,
    "No access token (WWW-Authenticate without an error code), or one that is not valid: "
    "malformed, expired, signed by a retired key, of an organisation no longer active, or "
    'obtained with an organisation key since revoked (`error="invalid_token"`).',
    headers=("WWW-Authenticate",),
)
INSUFFICIENT_SCOPE: Final = problem(
    403,
    "The access token lacks the scope this route needs (RFC 6750 §3.1 "
    '`error="insufficient_scope"`); `required_scope` names it.',
    ScopeProblem,
    headers=("WWW-Authenticate",),
)
DATABASE_UNAVAILABLE: Final = problem(
    503,
    "The database could not complete the request now (unreachable, out of connections, "
    "restarting, a statement timed out); nothing was stored. Send the same request again after "
    "Retry-After seconds (a batch with the same Idempotency-Key).",
    headers=("Retry-After",),
)
CONTENT_ENCODING: Final = Header(
    "Content-Encoding",
    "The request body's content coding: gzip, deflate, br, zstd or identity; the service "
    "decodes it and counts the decoded bytes against its limits.",
)
