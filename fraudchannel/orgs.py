"""The organisation registry: organisations, their standing, and their public keys.

The keys arrive checked (fraudchannel.public_keys.parse_public_key, pure).

Operators change it with `fraudchannel org ...` and `fraudchannel key ...` (cli_orgs.py); the token
endpoint reads it (assertions.py). Every state change passes through `_change`, the one place the
audit log will be appended (DESIGN: Records, audit and transparency).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
import structlog
from email_validator import EmailNotValidError, validate_email

from fraudchannel.db import query
from fraudchannel.errors import Conflict, FraudChannelError, NotFound, ValidationFailed
from fraudchannel.public_keys import ParsedKey

log = structlog.get_logger(__name__)

ROLES: Final = ("reporter", "platform", "admin")
SCHEMES: Final = ("ofcom_icu_d14", "dsa_art22", "bilateral", "other")
STATUSES: Final = ("active", "suspended", "revoked")
SLUG: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")  # as organisations_slug_check
EXPERTISE: Final = re.compile(r"^[a-z0-9][a-z0-9_:-]{0,39}$")
MAX_EXPERTISE: Final = 20
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
INSERT_KEY = query("orgs", "insert_key")
LIST_KEYS = query("orgs", "list_keys")
REVOKE_KEY = query("orgs", "revoke_key")
KEY_STATUS = query("orgs", "key_status")


@dataclass(frozen=True, slots=True)
class Organisation:
    """One registered organisation (a row of `organisations`); `trust_tier` 1 (highest) .. 3."""

    id: UUID
    slug: str
    legal_name: str
    role: str
    scheme: str
    expertise: tuple[str, ...]
    trust_tier: int
    status: str
    status_reason: str | None
    valid_from: datetime
    valid_until: datetime | None
    contact_email: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Organisation:
        """Return the organisation in a row of the registry's queries."""
        values = dict(row)
        values["expertise"] = tuple(values["expertise"])
        return cls(**values)

    def standing(self, now: datetime) -> str:
        """Return `status`, or "not_yet_valid" / "expired" for an active one outside its dates."""
        if self.status != "active":
            return self.status
        if now < self.valid_from:
            return "not_yet_valid"
        if self.valid_until is not None and now >= self.valid_until:
            return "expired"
        return "active"

    def as_dict(self) -> dict[str, Any]:
        """Return the organisation as JSON-ready values (ISO 8601 times, the id as text)."""
        return _jsonable(asdict(self))


@dataclass(frozen=True, slots=True)
class OrgKey:
    """One registered public key (a row of `org_keys`); `jwk` holds public members only."""

    id: UUID
    org_id: UUID
    kid: str
    alg: str
    jwk: dict[str, Any]
    thumbprint: str
    status: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> OrgKey:
        """Return the key in a row of the registry's queries."""
        return cls(**dict(row))

    def as_dict(self) -> dict[str, Any]:
        """Return the key as JSON-ready values."""
        return _jsonable(asdict(self))


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, datetime):
            out[name] = value.isoformat()
        elif isinstance(value, UUID):
            out[name] = str(value)
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out


# -- validation (pure) ------------------------------------------------------------------------


def check_new_org(
    *,
    slug: str,
    legal_name: str,
    role: str,
    scheme: str,
    expertise: tuple[str, ...],
    trust_tier: int,
    contact_email: str,
    valid_from: datetime | None,
    valid_until: datetime | None,
    now: datetime,
) -> str:
    """Return the normalised contact e-mail; raise ValidationFailed naming the first bad field.

    Datetimes must carry a time zone; `valid_until` must lie after `valid_from` (default `now`).
    """
    if not SLUG.match(slug):
        raise ValidationFailed(
            "slug must be 2 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit",
            field="slug",
        )
    if not legal_name.strip() or len(legal_name) > 200 or not legal_name.isprintable():
        raise ValidationFailed(
            "legal name must be 1 to 200 printable characters (no control characters)",
            field="legal_name",
        )
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", field="role")
    if scheme not in SCHEMES:
        raise ValidationFailed(f"scheme must be one of {', '.join(SCHEMES)}", field="scheme")
    if len(expertise) > MAX_EXPERTISE or not all(EXPERTISE.match(e) for e in expertise):
        raise ValidationFailed(
            f"expertise takes at most {MAX_EXPERTISE} areas, each 1 to 40 characters of a-z, 0-9, "
            "'_', ':' and '-'",
            field="expertise",
        )
    if not 1 <= trust_tier <= 3:
        raise ValidationFailed("trust tier must be 1 (highest), 2 or 3", field="trust_tier")
    try:
        email = validate_email(contact_email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"contact e-mail is not valid: {exc}", field="contact_email"
        ) from exc
    for name, value in (("valid_from", valid_from), ("valid_until", valid_until)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name} needs a time zone", field=name)
    if valid_until is not None and valid_until <= (valid_from or now):
        raise ValidationFailed("valid_until must lie after valid_from", field="valid_until")
    return email


# -- the registry (I/O) -----------------------------------------------------------------------


async def _change(
    pool: asyncpg.Pool, action: str, sql: str, *args: object, reason: str | None = None
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
            log.info("registry_changed", action=action, reason=reason, **subject)
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

    Raises NotFound for an unknown slug or kid, Conflict when the key is already revoked.
    """
    row = await _change(pool, "key_revoked", REVOKE_KEY, slug, kid)
    if row is None:
        await get_org(pool, slug)
        status = await pool.fetchval(KEY_STATUS, slug, kid)
        if status is None:
            raise NotFound(f"{slug!r} has no key {kid!r}")
        raise Conflict(f"key {kid!r} of {slug!r} is already revoked")
    return OrgKey.from_record(row)
