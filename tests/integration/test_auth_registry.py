"""The organisation registry service (orgs.py) on a real database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from fraudchannel import client, orgs, public_keys
from fraudchannel.errors import Conflict, NotFound, ValidationFailed
from tests.auth_fixtures import MakeOrg


def _slug() -> str:
    return f"r-{uuid.uuid4().hex[:12]}"


async def _create(pool: asyncpg.Pool, **changes: Any) -> orgs.Organisation:
    values: dict[str, Any] = {
        "slug": _slug(),
        "legal_name": "Example Bank plc",
        "role": "reporter",
        "contact_email": "Fraud@Example.ORG",
        "scheme": "ofcom_icu_d14",
        "expertise": ("investment", "romance"),
        "trust_tier": 1,
    }
    values.update(changes)
    return await orgs.create_org(pool, **values)


def _key(alg: str = "ES256", kid: str | None = None) -> public_keys.ParsedKey:
    jwk = client.public_jwk(client.generate_private_key(alg), alg, kid)
    return public_keys.parse_public_key(json.dumps(jwk).encode())


async def test_an_organisation_is_registered_active(pool: asyncpg.Pool) -> None:
    made = await _create(pool)
    assert made.status == "active"
    assert made.expertise == ("investment", "romance")
    assert made.contact_email == "Fraud@example.org"  # domain normalised by email-validator
    assert made.standing(datetime.now(UTC)) == "active"
    assert await orgs.get_org(pool, made.slug) == made
    doc = made.as_dict()
    assert doc["id"] == str(made.id)
    assert doc["valid_until"] is None


async def test_a_taken_slug_is_a_conflict(pool: asyncpg.Pool) -> None:
    made = await _create(pool)
    with pytest.raises(Conflict, match="already exists"):
        await _create(pool, slug=made.slug)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"slug": "A-Bank"}, "slug"),
        ({"slug": "x"}, "slug"),
        ({"slug": "-bank"}, "slug"),
        ({"legal_name": "  "}, "legal name"),
        ({"role": "superuser"}, "role"),
        ({"scheme": "gdpr"}, "scheme"),
        ({"expertise": ("Investment",)}, "expertise"),
        ({"trust_tier": 4}, "trust tier"),
        ({"contact_email": "not-an-address"}, "e-mail"),
        ({"valid_from": datetime(2030, 1, 1)}, "time zone"),  # noqa: DTZ001 - naive on purpose
        ({"valid_until": datetime.now(UTC) - timedelta(days=1)}, "after valid_from"),
    ],
)
async def test_bad_fields_are_refused(
    changes: dict[str, Any], match: str, pool: asyncpg.Pool
) -> None:
    with pytest.raises(ValidationFailed, match=match):
        await _create(pool, **changes)


async def test_standing_follows_the_validity_dates(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    early = await _create(pool, valid_from=now + timedelta(days=1))
    lapsed = await _create(
        pool, valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1)
    )
    assert early.standing(now) == "not_yet_valid"
    assert lapsed.standing(now) == "expired"


async def test_listing_filters_by_status_and_role(pool: asyncpg.Pool) -> None:
    platform = await _create(pool, role="platform")
    suspended = await _create(pool)
    await orgs.set_status(pool, suspended.slug, "suspended")
    platforms = {o.slug for o in await orgs.list_orgs(pool, role="platform")}
    assert platform.slug in platforms
    assert suspended.slug not in platforms
    assert suspended.slug in {o.slug for o in await orgs.list_orgs(pool, status="suspended")}
    everyone = [o.slug for o in await orgs.list_orgs(pool)]
    assert everyone == sorted(everyone)


async def test_status_moves(pool: asyncpg.Pool) -> None:
    made = await _create(pool)
    suspended = await orgs.set_status(pool, made.slug, "suspended", reason="phishing complaint")
    assert (suspended.status, suspended.status_reason) == ("suspended", "phishing complaint")
    with pytest.raises(Conflict, match="is suspended; it cannot become suspended"):
        await orgs.set_status(pool, made.slug, "suspended")
    assert (await orgs.set_status(pool, made.slug, "active")).status == "active"
    with pytest.raises(Conflict, match="is active; it cannot become active"):
        await orgs.set_status(pool, made.slug, "active")
    assert (await orgs.set_status(pool, made.slug, "revoked")).status == "revoked"
    for status in ("active", "suspended", "revoked"):
        with pytest.raises(Conflict, match="is revoked"):
            await orgs.set_status(pool, made.slug, status)
    with pytest.raises(NotFound):
        await orgs.set_status(pool, "no-such-org", "suspended")
    with pytest.raises(ValidationFailed):
        await orgs.set_status(pool, made.slug, "deleted")


async def test_keys_are_added_listed_and_revoked(pool: asyncpg.Pool) -> None:
    made = await _create(pool)
    first = await orgs.add_key(pool, made.slug, _key("ES256", kid="k1"))
    second = await orgs.add_key(pool, made.slug, _key("EdDSA", kid="k2"))
    assert (first.kid, first.alg, first.status) == ("k1", "ES256", "active")
    assert [k.kid for k in await orgs.list_keys(pool, made.slug)] == ["k2", "k1"]
    revoked = await orgs.revoke_key(pool, made.slug, "k1")
    assert revoked.status == "revoked"
    assert revoked.revoked_at is not None
    assert [k.kid for k in await orgs.list_keys(pool, made.slug, active_only=True)] == ["k2"]
    with pytest.raises(Conflict, match="already revoked"):
        await orgs.revoke_key(pool, made.slug, "k1")
    with pytest.raises(NotFound, match="no key"):
        await orgs.revoke_key(pool, made.slug, "k3")
    assert second.as_dict()["jwk"]["kid"] == "k2"


async def test_a_kid_or_a_key_is_registered_once_per_organisation(pool: asyncpg.Pool) -> None:
    made = await _create(pool)
    key = _key(kid="same")
    await orgs.add_key(pool, made.slug, key)
    with pytest.raises(Conflict, match="already has a key with kid 'same'"):
        await orgs.add_key(pool, made.slug, _key(kid="same"))
    again = public_keys.ParsedKey("other", key.alg, key.jwk | {"kid": "other"}, key.thumbprint)
    with pytest.raises(Conflict, match="already registered"):
        await orgs.add_key(pool, made.slug, again)


async def test_keys_of_unknown_organisations(pool: asyncpg.Pool) -> None:
    with pytest.raises(NotFound):
        await orgs.add_key(pool, "no-such-org", _key())
    with pytest.raises(NotFound):
        await orgs.list_keys(pool, "no-such-org")
    with pytest.raises(NotFound):
        await orgs.revoke_key(pool, "no-such-org", "k")
    with pytest.raises(NotFound):
        await orgs.get_org(pool, "no-such-org")


async def test_every_change_passes_the_audit_seam_once(
    pool: asyncpg.Pool, make_org: MakeOrg
) -> None:
    with capture_logs() as logs:
        creds = await make_org()
        await orgs.set_status(pool, creds.slug, "suspended", reason="why")
        await orgs.set_status(pool, creds.slug, "active")
        await orgs.revoke_key(pool, creds.slug, creds.kid)
        with pytest.raises(Conflict):
            await orgs.revoke_key(pool, creds.slug, creds.kid)  # no change: nothing recorded
    changes = [(e["action"], e.get("kid")) for e in logs if e["event"] == "registry_changed"]
    assert changes == [
        ("org_created", None),
        ("key_added", creds.kid),
        ("org_suspended", None),
        ("org_reactivated", None),
        ("key_revoked", creds.kid),
    ]
    assert all(e["org_id"] == str(creds.org_id) for e in logs if e["event"] == "registry_changed")
