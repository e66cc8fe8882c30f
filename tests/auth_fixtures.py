"""Fixtures for registered organisations and their access tokens, on a real server.

creds = await make_org(role="reporter")               # a registered org with a fresh ES256 key
token = await get_token(creds, scope="reports:read")  # the real POST /oauth/token exchange
async with http.get(f"{server.url}/v1/whoami", headers=bearer(token)) as resp: ...
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

import aiohttp
import asyncpg
import jwt
import pytest

from fraudchannel import client, orgs, public_keys
from fraudchannel.client import PrivateKey

if TYPE_CHECKING:
    from tests.conftest import Served

__all__ = [
    "Answer",
    "GetToken",
    "MakeOrg",
    "OrgCredentials",
    "assertion_claims",
    "bearer",
    "get_token",
    "make_org",
    "new_private_key",
    "post_token",
    "register_org",
    "sign_assertion",
]


@dataclass(frozen=True, slots=True)
class OrgCredentials:
    """What an organisation's integrator holds: its client id (slug), key id and private key."""

    org_id: UUID
    slug: str
    role: str
    kid: str
    alg: str
    private_key_pem: bytes

    def assertion(self, audience: str, lifetime_s: int = 60) -> str:
        """Return a fresh, valid client assertion for `audience` (the token endpoint URL)."""
        return client.sign_client_assertion(
            self.private_key_pem, self.kid, self.alg, self.slug, audience, lifetime_s
        )


class MakeOrg(Protocol):
    """`await make_org(role="reporter", alg="ES256", trust_tier=2, **fields)`."""

    def __call__(
        self, role: str = "reporter", alg: str = "ES256", trust_tier: int = 2, **fields: Any
    ) -> Awaitable[OrgCredentials]: ...


class GetToken(Protocol):
    """`await get_token(creds, scope=None, server=None)`: the access token, or AssertionError."""

    def __call__(
        self, creds: OrgCredentials, scope: str | None = None, server: Served | None = None
    ) -> Awaitable[str]: ...


@functools.cache
def _rsa_key() -> PrivateKey:
    # 2048-bit generation takes a tenth of a second or more: one per session serves every RSA org.
    return client.generate_private_key("PS256", rsa_bits=2048)


def new_private_key(alg: str) -> PrivateKey:
    """Return a private key for `alg`: fresh for ES256/EdDSA, the session's RSA key otherwise."""
    return _rsa_key() if alg in ("PS256", "RS256") else client.generate_private_key(alg)


def sign_assertion(
    creds: OrgCredentials, claims: dict[str, Any], headers: dict[str, Any] | None = None
) -> str:
    """Return `claims` signed with the org's key (for crafting bad assertions in tests)."""
    key = client.load_private_key(creds.private_key_pem)
    return jwt.encode(
        claims, key, algorithm=creds.alg, headers={"kid": creds.kid, **(headers or {})}
    )


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header of an access token (RFC 6750 §2.1)."""
    return {"Authorization": f"Bearer {token}"}


async def register_org(
    pool: asyncpg.Pool,
    role: str = "reporter",
    alg: str = "ES256",
    trust_tier: int = 2,
    **fields: Any,
) -> OrgCredentials:
    """Register an organisation with a unique slug and a real `alg` key in `pool`'s database.

    `fields` go to orgs.create_org (legal_name, contact_email, scheme, valid_from, ...).
    """
    slug = f"t-{uuid.uuid4().hex[:16]}"
    values: dict[str, Any] = {
        "legal_name": f"Test organisation {slug}",
        "contact_email": "fraud-team@example.org",
        "scheme": "bilateral",
    }
    values.update(fields)
    org = await orgs.create_org(pool, slug=slug, role=role, trust_tier=trust_tier, **values)
    key = new_private_key(alg)
    jwk = json.dumps(client.public_jwk(key, alg)).encode()
    registered = await orgs.add_key(pool, slug, public_keys.parse_public_key(jwk))
    return OrgCredentials(org.id, slug, role, registered.kid, alg, client.private_key_pem(key))


@pytest.fixture(scope="session")
def make_org(pool: asyncpg.Pool) -> MakeOrg:
    """Return a factory of organisations registered in the session database (see register_org)."""

    async def make(
        role: str = "reporter", alg: str = "ES256", trust_tier: int = 2, **fields: Any
    ) -> OrgCredentials:
        return await register_org(pool, role, alg, trust_tier, **fields)

    return make


@pytest.fixture(scope="session")
def get_token(server: Served, http: aiohttp.ClientSession) -> GetToken:
    """Return a factory doing the real token exchange against `server` (default: the session's).

    Fails the test (AssertionError with the response body) unless the answer is 200.
    """
    default = server

    async def fetch(
        creds: OrgCredentials, scope: str | None = None, server: Served | None = None
    ) -> str:
        target = server or default
        form = client.token_form(creds.assertion(target.token_endpoint), scope=scope)
        async with http.post(target.token_endpoint, data=form) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            token: str = body["access_token"]
            return token

    return fetch


# -- helpers for the authentication tests ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, headers and the JSON body (None when it was not JSON)."""

    status: int
    headers: dict[str, str]
    body: Any


async def post_token(
    http: aiohttp.ClientSession,
    server: Served,
    form: dict[str, str] | list[tuple[str, str]] | bytes | str | AsyncIterator[bytes],
    content_type: str | None = None,
) -> Answer:
    """POST `form` to the token endpoint of `server` and return the answer."""
    headers = {"Content-Type": content_type} if content_type else None
    async with http.post(server.token_endpoint, data=form, headers=headers) as resp:
        try:
            body = await resp.json(content_type=None)
        except ValueError:
            body = None
        return Answer(resp.status, dict(resp.headers), body)


def assertion_claims(creds: OrgCredentials, audience: str, **changes: Any) -> dict[str, Any]:
    """Return valid client-assertion claims for `creds`; `changes` override, None removes."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": creds.slug,
        "sub": creds.slug,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}
