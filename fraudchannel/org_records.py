"""The organisation registry's records and the rules they follow (pure, no I/O).

`Organisation` and `OrgKey` are rows of `organisations` and `org_keys`; `OrgChanges` is what an
operator changes of an organisation. `check_new_org` and `check_changes` validate them; the
registry itself (fraudchannel/orgs.py) stores them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
from email_validator import EmailNotValidError, validate_email

from fraudchannel.errors import ValidationFailed

ROLES: Final = ("reporter", "platform", "admin")
SCHEMES: Final = ("ofcom_icu_d14", "dsa_art22", "bilateral", "other")
STATUSES: Final = ("active", "suspended", "revoked")
SLUG: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")  # as organisations_slug_check
EXPERTISE: Final = re.compile(r"^[a-z0-9][a-z0-9_:-]{0,39}$")
MAX_EXPERTISE: Final = 20


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
class OrgChanges:
    """What an operator changes of an organisation (`fraudchannel org update`); None: unchanged.

    The slug (the OAuth client id) and the role (the scopes) never change: a different client is a
    new organisation. The status changes through `set_status`. `no_end_date` removes the end of
    validity; it cannot be given with `valid_until`.
    """

    legal_name: str | None = None
    contact_email: str | None = None
    scheme: str | None = None
    expertise: tuple[str, ...] | None = None
    trust_tier: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    no_end_date: bool = False

    def is_empty(self) -> bool:
        """Return whether no change at all is asked for."""
        return self == OrgChanges()


# The validity dates an organisation may have: within these, every date survives the database
# and the driver unchanged.
VALIDITY_FROM: Final = datetime(1970, 1, 1, tzinfo=UTC)
VALIDITY_UNTIL: Final = datetime(9999, 1, 1, tzinfo=UTC)

# the Organisation fields an OrgChanges may change, in its order
_FIELDS: Final = tuple(f.name for f in fields(OrgChanges) if f.name != "no_end_date")


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

    Datetimes must carry a time zone and lie in the years 1970 to 9998 (UTC); `valid_until` must
    lie after `valid_from` (default `now`).
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
        if value is not None and not VALIDITY_FROM <= value < VALIDITY_UNTIL:
            # the driver stores datetime.min/max as -infinity/infinity, read back without a zone
            raise ValidationFailed(
                f"{name} must lie in the years 1970 to 9998 (UTC); leave valid_until out "
                "for no end",
                field=name,
            )
    if valid_until is not None and valid_until <= (valid_from or now):
        raise ValidationFailed("valid_until must lie after valid_from", field="valid_until")
    return email


def check_changes(
    current: Organisation, changes: OrgChanges, now: datetime
) -> tuple[OrgChanges, tuple[str, ...]]:
    """Return `changes` normalised (the e-mail as check_new_org gives it, the name stripped) and
    the names of the fields they really change, in OrgChanges order (none: nothing to do).

    The organisation as it would be after the change is checked whole, as a new one is
    (check_new_org), so an end of validity before its start is refused however it comes about.
    Raises ValidationFailed naming the first bad field.
    """
    if changes.no_end_date and changes.valid_until is not None:
        raise ValidationFailed(
            "give an end of validity or no end date, not both", field="valid_until"
        )
    after = replace(
        current, **{name: v for name in _FIELDS if (v := getattr(changes, name)) is not None}
    )
    if changes.no_end_date:
        after = replace(after, valid_until=None)
    email = check_new_org(
        slug=after.slug,
        legal_name=after.legal_name,
        role=after.role,
        scheme=after.scheme,
        expertise=after.expertise,
        trust_tier=after.trust_tier,
        contact_email=after.contact_email,
        valid_from=after.valid_from,
        valid_until=after.valid_until,
        now=now,
    )
    after = replace(after, contact_email=email, legal_name=after.legal_name.strip())
    changed = tuple(name for name in _FIELDS if getattr(after, name) != getattr(current, name))
    normal = OrgChanges(**{name: getattr(after, name) for name in changed})
    if "valid_until" in changed and after.valid_until is None:
        normal = replace(normal, no_end_date=True)
    return normal, changed
