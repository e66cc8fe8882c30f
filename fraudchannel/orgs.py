"""The organisation registry: organisations, their standing, and their public keys.

Its records and their rules are in fraudchannel/org_records.py (pure); the keys arrive checked
(fraudchannel.public_keys.parse_public_key, pure).

Operators change it with `fraudchannel org ...` and `fraudchannel key ...` (cli_orgs.py); the token
endpoint reads it (assertions.py). Every state change passes through `_change`, the one place the
audit log will be appended (DESIGN: Records, audit and transparency).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import asyncpg
import structlog

from fraudchannel.db import query
from fraudchannel.errors import Conflict, FraudChannelError, NotFound, ValidationFailed
from fraudchannel.org_records import (
    ROLES,
    SCHEMES,
    STATUSES,
    Organisation,
    OrgChanges,
    OrgKey,
    check_changes,
    check_new_org,
)
from fraudchannel.public_keys import ParsedKey

__all__ = [
    "ROLES",
    "SCHEMES",
    "STATUSES",
    "OrgChanges",
    "OrgKey",
    "Organisation",
    "add_key",
    "check_changes",
    "check_new_org",
    "create_org",
    "get_org",
    "list_keys",
    "list_orgs",
    "revoke_key",
    "set_status",
    "update_org",
]

log = structlog.get_logger(__name__)

# target status -> (audit action, the statuses it may be reached from).
_MOVES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "suspended": ("org_suspended", ("active",)),
    "active": ("org_reactivated", ("suspended",)),
    "revoked": ("org_revoked", ("active", "suspended")),
}

INSERT_ORG = query("orgs", "insert_org")
LIST_ORGS = query("orgs", "list_orgs")
GET_ORG = query("orgs", "get_org")
SET_ORG_STATUS = query("orgs", "set_org_status")
UPDATE_ORG = query("orgs", "update_org")
INSERT_KEY = query("orgs", "insert_key")
LIST_KEYS = query("orgs", "list_keys")
REVOKE_KEY = query("orgs", "revoke_key")
KEY_STATUS = query("orgs", "key_status")


# -- the registry (I/O) -----------------------------------------------------------------------


async def _change(
    pool: asyncpg.Pool,
    action: str,
    sql: str,
    *args: object,
    reason: str | None = None,
    **details: object,
) -> asyncpg.Record | None:
    """Run one registry state change (a single statement) in its own transaction; return its row.

    Every change to organisations and keys passes here: the hash-chained audit log (DESIGN:
    Records, audit and transparency) will be appended in this transaction. No row: nothing
    changed, and nothing is recorded.
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql, *args)
        if row is not None:
            subject = {"org_id": str(row.get("org_id") or row["id"])}
            if "kid" in row:
                subject["kid"] = row["kid"]
            log.info("registry_changed", action=action, reason=reason, **subject, **details)
    return row


async def create_org(
    pool: asyncpg.Pool,
    *,
    slug: str,
    legal_name: str,
    role: str,
    contact_email: str,
    scheme: str = "other",
    expertise: tuple[str, ...] = (),
    trust_tier: int = 2,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> Organisation:
    """Register an organisation (status active) and return it.

    Raises ValidationFailed for a bad field (see check_new_org), Conflict for a taken slug.
    """
    email = check_new_org(
        slug=slug,
        legal_name=legal_name,
        role=role,
        scheme=scheme,
        expertise=expertise,
        trust_tier=trust_tier,
        contact_email=contact_email,
        valid_from=valid_from,
        valid_until=valid_until,
        now=datetime.now(UTC),
    )
    args = (slug, legal_name.strip(), role, scheme, list(expertise), trust_tier, email)
    try:
        row = await _change(pool, "org_created", INSERT_ORG, *args, valid_from, valid_until)
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"an organisation with slug {slug!r} already exists") from exc
    if row is None:  # an INSERT ... VALUES always returns its row
        raise FraudChannelError("the organisation was not stored")
    return Organisation.from_record(row)


async def list_orgs(
    pool: asyncpg.Pool, *, status: str | None = None, role: str | None = None
) -> list[Organisation]:
    """Return the organisations by slug, optionally of one status and/or role."""
    rows = await pool.fetch(LIST_ORGS, status, role)
    return [Organisation.from_record(r) for r in rows]


async def get_org(pool: asyncpg.Pool, slug: str) -> Organisation:
    """Return the organisation `slug`; raise NotFound when there is none."""
    row = await pool.fetchrow(GET_ORG, slug)
    if row is None:
        raise NotFound(f"no organisation {slug!r}")
    return Organisation.from_record(row)


async def set_status(
    pool: asyncpg.Pool, slug: str, status: str, *, reason: str | None = None
) -> Organisation:
    """Move organisation `slug` to `status` and return it; its tokens follow at once.

    Allowed: active -> suspended (suspend), suspended -> active (reactivate), active or
    suspended -> revoked (revoke, final). Raises NotFound for an unknown slug, Conflict for any
    other move (already there, or revoked).
    """
    move = _MOVES.get(status)
    if move is None:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}")
    action, sources = move
    row = await _change(
        pool, action, SET_ORG_STATUS, slug, status, list(sources), reason, reason=reason
    )
    if row is None:
        current = await get_org(pool, slug)  # raises NotFound
        raise Conflict(f"organisation {slug!r} is {current.status}; it cannot become {status}")
    return Organisation.from_record(row)


async def update_org(
    pool: asyncpg.Pool, slug: str, changes: OrgChanges, *, reason: str | None = None
) -> tuple[Organisation, tuple[str, ...]]:
    """Change organisation `slug`'s details; return it as it now is and the fields that changed.

    Changes take effect at once: access tokens read the organisation on every request, so a new
    trust tier or end of validity applies to the next one. Asking for what is already there
    changes nothing and records nothing. Raises NotFound for an unknown slug, Conflict for a
    revoked organisation (final), ValidationFailed for a bad field (see check_changes).
    """
    current = await get_org(pool, slug)
    if current.status == "revoked":
        raise Conflict(f"organisation {slug!r} is revoked; its details can no longer change")
    normal, changed = check_changes(current, changes, datetime.now(UTC))
    if not changed:
        return current, ()
    args = (
        normal.legal_name,
        normal.scheme,
        None if normal.expertise is None else list(normal.expertise),
        normal.trust_tier,
        normal.contact_email,
        normal.valid_from,
        normal.valid_until,
        normal.no_end_date,
    )
    try:
        row = await _change(
            pool, "org_updated", UPDATE_ORG, slug, *args, reason=reason, changed=list(changed)
        )
    except asyncpg.CheckViolationError as exc:  # another change moved the dates meanwhile
        raise ValidationFailed(
            "valid_until must lie after valid_from", field="valid_until"
        ) from exc
    if row is None:
        raise Conflict(f"organisation {slug!r} was revoked meanwhile; nothing changed")
    return Organisation.from_record(row), changed


async def add_key(pool: asyncpg.Pool, slug: str, key: ParsedKey) -> OrgKey:
    """Register `key` (see parse_public_key) for organisation `slug` and return it.

    Raises NotFound for an unknown slug, Conflict when the kid or the key is already registered
    for that organisation (a revoked one counts: kids are never reused).
    """
    try:
        row = await _change(
            pool, "key_added", INSERT_KEY, slug, key.kid, key.alg, key.jwk, key.thumbprint
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "org_keys_org_thumbprint_key":
            raise Conflict(f"this key is already registered for {slug!r}") from exc
        raise Conflict(f"{slug!r} already has a key with kid {key.kid!r}") from exc
    if row is None:
        raise NotFound(f"no organisation {slug!r}")
    return OrgKey.from_record(row)


async def list_keys(pool: asyncpg.Pool, slug: str, *, active_only: bool = False) -> list[OrgKey]:
    """Return organisation `slug`'s keys, newest first; raise NotFound for an unknown slug."""
    await get_org(pool, slug)
    rows = await pool.fetch(LIST_KEYS, slug, active_only)
    return [OrgKey.from_record(r) for r in rows]


async def revoke_key(pool: asyncpg.Pool, slug: str, kid: str) -> OrgKey:
    """Revoke organisation `slug`'s key `kid` (it signs no assertion from now on); return it.

    The access tokens obtained with it stop working on their next request (tokens.authenticate
    reads the key's status). Raises NotFound for an unknown slug or kid, Conflict when the key
    is already revoked.
    """
    row = await _change(pool, "key_revoked", REVOKE_KEY, slug, kid)
    if row is None:
        await get_org(pool, slug)
        status = await pool.fetchval(KEY_STATUS, slug, kid)
        if status is None:
            raise NotFound(f"{slug!r} has no key {kid!r}")
        raise Conflict(f"key {kid!r} of {slug!r} is already revoked")
    return OrgKey.from_record(row)
