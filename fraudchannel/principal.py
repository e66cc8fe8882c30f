"""The authenticated caller of a request, as the access token and the registry describe it."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

# Scopes by role (DESIGN: Authentication and authorisation).
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "reporter": frozenset({"reports:write", "reports:read", "events:read"}),
    "platform": frozenset({"tickets:read", "tickets:write"}),
    "admin": frozenset({"orgs:admin", "stats:read"}),
}
# What each scope lets a token do (the OpenAPI document's security scheme lists them).
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "reports:write": "Submit report batches for your organisation.",
    "reports:read": "Read your organisation's own batches and reports.",
    "events:read": "Read the events of your organisation's reports.",
    "tickets:read": "Read the takedown ticket queue.",
    "tickets:write": "Act on takedown tickets.",
    "orgs:admin": "Manage organisations and their keys.",
    "stats:read": "Read the service's statistics.",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An organisation acting through a valid access token.

    `scopes` are those the token carries (a subset of its role's); `trust_tier` 1 (highest) .. 3.
    """

    org_id: UUID
    slug: str
    role: str
    trust_tier: int
    scopes: frozenset[str]
    token_id: str

    def has(self, scope: str) -> bool:
        """Return True when the token carries `scope`."""
        return scope in self.scopes
