"""Pydantic models of the HTTP API besides the report schema (models.py), for the OpenAPI document.

They describe what the handlers answer (fraudchannel.ingest, fraudchannel.reports, tokens.py,
http/*.py), the token form and the path parameters, so that `schemas/openapi.v1.json` is generated
rather than written by hand (fraudchannel.openapi). The handlers build their answers as dicts or
stored JSON bytes, for speed; tests/integration/test_openapi.py checks real answers against the
generated document. A member that is left out, never null, when it has nothing to say is typed
`X | SkipJsonSchema[None]`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from fraudchannel.assertions import MAX_ASSERTION_BYTES
from fraudchannel.models import ReportItem, Submitter
from fraudchannel.taxonomy import ScamType
from fraudchannel.terms import Outcome, StoredOutcome, TargetType, TicketStatus

Role = Literal["reporter", "platform", "admin"]
# RFC 6749 §3.3: scope = scope-token *( SP scope-token ).
SCOPE_PATTERN: Final = r"^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$"
Scopes = Annotated[str, StringConstraints(pattern=SCOPE_PATTERN)]


def _omitted_is_not_null(schema: dict[str, Any]) -> None:
    """Drop `"default": null` from members whose schema does not allow null (they are omitted)."""
    for member in schema.get("properties", {}).values():
        nullable = any(s.get("type") == "null" for s in member.get("anyOf", ()))
        if "default" in member and member["default"] is None and not nullable:
            del member["default"]


class _Answer(BaseModel):
    """Base of the answer models: closed and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_omitted_is_not_null)


# ---- the batch receipt (HTTP 202; fraudchannel.ingest._answer) ---------------------------------


class ShownTarget(_Answer):
    """A target as the service canonicalised it."""  # fraudchannel.notices.shown_target

    type: TargetType
    canonical: str = Field(description="The canonical form the service deduplicates on.")
    registrable_domain: str | SkipJsonSchema[None] = Field(
        None,
        description="The registrable domain (Public Suffix List) of a URL, e-mail or profile "
        "URL target; left out when there is none.",
    )


class ItemError(_Answer):
    """One reason an item or the envelope was refused."""

    pointer: str = Field(description="RFC 6901 JSON Pointer into the request body.")
    code: str = Field(description="Machine-readable reason, e.g. `string_too_long`.")
    detail: str = Field(description="Human-readable reason.")


class AcceptedItem(_Answer):
    """An item stored now, or stored before under the same client_ref."""

    index: int = Field(ge=0, description="Position of the item in the batch's `reports`.")
    client_ref: str
    report_id: UUID
    target: ShownTarget
    outcome: Outcome = Field(
        description="`duplicate_of_own_report`: your organisation sent this client_ref before "
        "(in this batch or an earlier one); nothing new was stored."
    )
    ticket_id: UUID
    indicative_decision_by: AwareDatetime | None = Field(
        description="When the platform aims to decide the ticket (its priority band's SLA)."
    )
    content_differs: Literal[True] | SkipJsonSchema[None] = Field(
        None,
        description="Present on a client_ref already stored (by an earlier batch, or earlier in "
        "this one) when this item differs from the stored one: nothing was changed; send a "
        "correction under a new client_ref.",
    )


class RejectedItem(_Answer):
    """An item refused (not stored), with every reason."""

    index: int = Field(ge=0, description="Position of the item in the batch's `reports`.")
    client_ref: str | SkipJsonSchema[None] = Field(
        None, description="The item's client_ref, when it had a usable one."
    )
    errors: list[ItemError] = Field(min_length=1)


class BatchCounts(_Answer):
    """How many items had each result."""

    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    new_ticket: int = Field(ge=0)
    linked_to_open_ticket: int = Field(ge=0)
    recurrence_after_action: int = Field(ge=0)
    duplicate_of_own_report: int = Field(ge=0)


class BatchAnswer(_Answer):
    """The receipt of a batch (DSA Art 16(4)): one result per item, in the order sent."""

    batch_id: UUID
    received_at: AwareDatetime
    counts: BatchCounts
    items: list[AcceptedItem | RejectedItem]


# ---- reading reports (fraudchannel.reports) ----------------------------------------------------


class ReportSummary(_Answer):
    """One of your organisation's stored reports and the state of its ticket."""

    id: UUID
    client_ref: str
    batch_id: UUID
    index: int = Field(ge=0, description="Position of the item in its batch.")
    created_at: AwareDatetime
    target: ShownTarget
    scam_type: ScamType
    outcome: StoredOutcome
    ticket_id: UUID
    status: TicketStatus = Field(description="The state of the report's ticket.")
    decided_at: AwareDatetime | None = Field(description="When the ticket was decided.")


class ReportDetail(ReportSummary):
    """One of your organisation's reports, with the item exactly as sent."""

    report: ReportItem = Field(description="The item as sent in its batch.")


class ReportPage(_Answer):
    """A page of your organisation's reports, oldest first."""

    items: list[ReportSummary]
    next: str | None = Field(
        description="Path and query of the next page (same filters, with `after`); null on the "
        "last page."
    )


class BatchSummary(_Answer):
    """One of your organisation's batches: when it came, who sent it and what became of it."""

    id: UUID = Field(description="The batch's `batch_id`.")
    received_at: AwareDatetime
    submitter: Submitter = Field(description="The submitter named in the batch.")
    item_count: int = Field(ge=0, description="How many items the batch held.")
    counts: BatchCounts = Field(description="The counts of the batch's receipt.")
    receipt: str = Field(
        description="Path of the batch's receipt (GET /v1/report-batches/{batch_id})."
    )


class BatchPage(_Answer):
    """A page of your organisation's batches, oldest first."""

    items: list[BatchSummary]
    next: str | None = Field(
        description="Path and query of the next page (same filters, with `after`); null on the "
        "last page."
    )


class BatchPath(BaseModel):
    """Path parameters of GET /v1/report-batches/{batch_id}."""

    batch_id: UUID = Field(description="The `batch_id` of a batch's 202 answer.")


class ReportPath(BaseModel):
    """Path parameters of GET /v1/reports/{report_id}."""

    report_id: UUID = Field(description="A `report_id` of a batch's answer.")


# ---- OAuth and identity ------------------------------------------------------------------------


class TokenForm(BaseModel):
    """A token request (RFC 6749 §4.4.2) authenticated by a client assertion (RFC 7523 §2.2).

    Empty parameters count as absent, a repeated one is refused, unknown ones are ignored
    (RFC 6749 §3.2). No client_secret and no Authorization header: the assertion is the one
    client authentication.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra=_omitted_is_not_null)

    grant_type: Literal["client_credentials"]
    client_assertion_type: Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    client_assertion: str = Field(
        max_length=MAX_ASSERTION_BYTES,
        description="A JWT signed (ES256, EdDSA, PS256 or RS256: the registered key's alg) by "
        "one of your registered keys, its kid in the header; iss = sub = your client id, aud = "
        "PUBLIC_URL/oauth/token, exp at most 5 minutes ahead, a jti never used before.",
    )
    scope: Scopes | SkipJsonSchema[None] = Field(
        None,
        description="Scopes wanted, space-separated: a subset of your role's (default: all).",
    )
    client_id: str | SkipJsonSchema[None] = Field(
        None, description="Your client id (organisation slug); must equal the assertion's iss."
    )


class TokenAnswer(_Answer):
    """A successful token response (RFC 6749 §5.1)."""

    access_token: str = Field(
        description="An ES256 JWT (typ at+jwt, RFC 9068) to send as `Authorization: Bearer`; "
        "its signature verifies with /.well-known/jwks.json."
    )
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=1, le=600, description="Lifetime of the token, seconds.")
    scope: Scopes = Field(description="The scopes granted, space-separated.")


class WhoAmI(_Answer):
    """The caller, as its access token and the registry describe it."""

    org_id: UUID
    slug: str = Field(description="The organisation's client id.")
    role: Role
    scopes: list[str] = Field(description="The scopes of the token, sorted.")


class Jwk(_Answer):
    """A public key of the service (RFC 7517), which signs access tokens."""

    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: str
    y: str
    kid: str = Field(description="The RFC 7638 thumbprint; access tokens name it in `kid`.")
    alg: Literal["ES256"]
    use: Literal["sig"]


class JwkSet(_Answer):
    """The keys that verify access tokens (RFC 7517 §5): the active one, retired ones until the
    tokens they signed have expired."""

    keys: list[Jwk]


# ---- service ------------------------------------------------------------------------------------


class Health(_Answer):
    """The process runs."""

    status: Literal["ok"]


class Ready(_Answer):
    """The database answers and every migration is applied."""

    status: Literal["ready"]
    database: Literal["ok"]
    migrations: Literal["current"]


class OpenApiDocument(RootModel[dict[str, Any]]):
    """This OpenAPI 3.1 document."""


# ---- problems (RFC 9457; fraudchannel.errors, http/middleware.py) ------------------------------


class Problem(BaseModel):
    """An RFC 9457 problem document; extension members may follow."""

    model_config = ConfigDict(extra="allow", frozen=True, json_schema_extra=_omitted_is_not_null)

    type: str = Field(
        json_schema_extra={"format": "uri"},
        description="The problem type: https://fraudchannel.example/problems/<slug>, or "
        "about:blank for plain HTTP errors (then `title` is the status phrase).",
    )
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str = Field(
        json_schema_extra={"format": "uri-reference"},
        description="The request's path; for a request that could not be read at all, "
        "urn:uuid:<its X-Request-Id>.",
    )


class ValidationProblem(Problem):
    """A problem document that may list each fault with a JSON Pointer into the body."""

    errors: list[ItemError] | SkipJsonSchema[None] = Field(
        None, description="Every fault found (present when the body broke the schema)."
    )


class ParameterError(_Answer):
    """One faulty query parameter."""

    parameter: str
    code: str
    detail: str


class QueryProblem(Problem):
    """A problem document that may list each faulty query parameter."""

    errors: list[ParameterError] | SkipJsonSchema[None] = Field(
        None, description="Every faulty parameter (present when a parameter was at fault)."
    )


class ScopeProblem(Problem):
    """The access token lacks a scope (RFC 6750 §3.1 insufficient_scope)."""

    required_scope: str


class OAuthProblem(Problem):
    """An error of the token endpoint: RFC 6749 §5.2 members plus the RFC 9457 members."""

    error: Literal["invalid_request", "unsupported_grant_type", "invalid_scope", "invalid_client"]
    error_description: str
