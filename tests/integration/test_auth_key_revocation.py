"""Revoking an organisation's key stops the access tokens obtained with it on their next request."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import aiohttp
import asyncpg
import jwt

from fraudchannel import client, orgs, public_keys
from tests.auth_fixtures import GetToken, MakeOrg, OrgCredentials, bearer, new_private_key
from tests.conftest import Served


async def _another_key(pool: asyncpg.Pool, creds: OrgCredentials) -> OrgCredentials:
    """Register a second key for `creds`' organisation and return the credentials using it."""
    key = new_private_key(creds.alg)
    jwk = json.dumps(client.public_jwk(key, creds.alg)).encode()
    added = await orgs.add_key(pool, creds.slug, public_keys.parse_public_key(jwk))
    return dataclasses.replace(creds, kid=added.kid, private_key_pem=client.private_key_pem(key))


async def _whoami(
    http: aiohttp.ClientSession, server: Served, token: str
) -> tuple[int, dict[str, str], Any]:
    async with http.get(f"{server.url}/v1/whoami", headers=bearer(token)) as resp:
        return resp.status, dict(resp.headers), await resp.json(content_type=None)


async def test_revoking_a_key_stops_the_tokens_it_obtained_and_no_others(
    make_org: MakeOrg,
    get_token: GetToken,
    pool: asyncpg.Pool,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    key_a = await make_org()
    key_b = await _another_key(pool, key_a)
    token_a, token_b = await get_token(key_a), await get_token(key_b)
    for creds, token in ((key_a, token_a), (key_b, token_b)):
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["client_kid"] == creds.kid
        assert (await _whoami(http, server, token))[0] == 200

    await orgs.revoke_key(pool, key_a.slug, key_a.kid)

    status, headers, body = await _whoami(http, server, token_a)
    detail = (
        f"the key that obtained the access token ({key_a.kid}) was revoked; "
        "get a new token with an active key"
    )
    assert status == 401, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert headers["WWW-Authenticate"] == (
        f'Bearer realm="fraudchannel", error="invalid_token", error_description="{detail}"'
    )
    assert body["status"] == 401
    assert body["detail"] == detail
    status, _, body = await _whoami(http, server, token_b)  # same organisation, key B
    assert status == 200, body
    assert body["slug"] == key_a.slug


async def test_organisation_standing_is_reported_before_a_revoked_key(
    make_org: MakeOrg,
    get_token: GetToken,
    pool: asyncpg.Pool,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    creds = await make_org()
    token = await get_token(creds)
    await orgs.revoke_key(pool, creds.slug, creds.kid)
    await orgs.set_status(pool, creds.slug, "suspended", reason="test")
    status, _, body = await _whoami(http, server, token)
    assert status == 401
    assert body["detail"] == "the organisation is not active (suspended)"
    await orgs.set_status(pool, creds.slug, "active")  # lifting the suspension revives no key
    status, _, body = await _whoami(http, server, token)
    assert status == 401
    assert "was revoked" in body["detail"]
