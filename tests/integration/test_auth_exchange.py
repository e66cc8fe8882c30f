"""The token exchange end to end with real keys, PostgreSQL and HTTP (RFC 6749 §4.4, RFC 7523)."""

from __future__ import annotations

import dataclasses
import json

import aiohttp
import asyncpg
import jwt
import pytest

from fraudchannel import client, orgs, public_keys
from fraudchannel.principal import ROLE_SCOPES
from tests.auth_fixtures import GetToken, MakeOrg, bearer, post_token
from tests.conftest import Served


async def _jwks(http: aiohttp.ClientSession, server: Served) -> jwt.PyJWKSet:
    async with http.get(f"{server.url}/.well-known/jwks.json") as resp:
        assert resp.status == 200
        return jwt.PyJWKSet.from_dict(await resp.json())


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256", "RS256"])
async def test_exchange_then_call_v1(
    alg: str, make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    creds = await make_org(alg=alg, trust_tier=1)
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": creds.assertion(server.token_endpoint),
    }
    answer = await post_token(http, server, form)

    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Pragma"] == "no-cache"
    assert set(answer.body) == {"access_token", "token_type", "expires_in", "scope"}
    assert answer.body["token_type"] == "Bearer"
    assert answer.body["expires_in"] == server.settings.access_token_ttl_s
    assert answer.body["scope"] == "events:read reports:read reports:write"

    token = answer.body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["typ"] == "at+jwt"
    key = (await _jwks(http, server))[header["kid"]]
    claims = jwt.decode(token, key, algorithms=["ES256"], audience=server.url, issuer=server.url)
    assert claims["sub"] == claims["client_id"] == creds.slug
    assert claims["org"] == str(creds.org_id)
    assert claims["client_kid"] == creds.kid  # the org key that authenticated the exchange
    assert claims["scope"] == answer.body["scope"]
    assert claims["exp"] - claims["iat"] == server.settings.access_token_ttl_s
    assert claims["jti"]

    async with http.get(f"{server.url}/v1/whoami", headers=bearer(token)) as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "org_id": str(creds.org_id),
            "slug": creds.slug,
            "role": "reporter",
            "scopes": ["events:read", "reports:read", "reports:write"],
        }


@pytest.mark.parametrize("role", ["reporter", "platform", "admin"])
async def test_each_role_gets_its_scopes(
    role: str, make_org: MakeOrg, get_token: GetToken, server: Served, http: aiohttp.ClientSession
) -> None:
    token = await get_token(await make_org(role=role))
    async with http.get(f"{server.url}/v1/whoami", headers=bearer(token)) as resp:
        me = await resp.json()
    assert me["role"] == role
    assert set(me["scopes"]) == ROLE_SCOPES[role]


async def test_a_requested_scope_narrows_the_token(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    creds = await make_org()
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": creds.assertion(server.token_endpoint),
        "scope": "reports:read events:read",
    }
    answer = await post_token(http, server, form)
    assert answer.body["scope"] == "events:read reports:read"
    headers = bearer(answer.body["access_token"])
    async with http.get(f"{server.url}/v1/whoami", headers=headers) as resp:
        assert (await resp.json())["scopes"] == ["events:read", "reports:read"]


async def test_client_id_equal_to_iss_is_accepted(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    creds = await make_org(alg="EdDSA")
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": creds.assertion(server.token_endpoint),
        "client_id": creds.slug,
        "resource": "ignored (RFC 6749 §3.2: unknown parameters are ignored)",
    }
    assert (await post_token(http, server, form)).status == 200


async def test_an_org_with_two_keys_may_use_either(
    make_org: MakeOrg, get_token: GetToken, pool: asyncpg.Pool
) -> None:
    first = await make_org()
    key = client.generate_private_key("EdDSA")
    parsed = public_keys.parse_public_key(json.dumps(client.public_jwk(key, "EdDSA")).encode())
    await orgs.add_key(pool, first.slug, parsed)
    second = dataclasses.replace(
        first, kid=parsed.kid, alg="EdDSA", private_key_pem=client.private_key_pem(key)
    )
    assert await get_token(second)
    assert await get_token(first)


async def test_jwks_publishes_public_es256_keys(
    server: Served, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/.well-known/jwks.json") as resp:
        assert resp.status == 200
        assert resp.headers["Cache-Control"].startswith("public")
        doc = await resp.json()
    assert doc["keys"]
    for key in doc["keys"]:
        assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")


async def test_the_token_endpoint_needs_no_bearer_token_and_refuses_get(
    server: Served, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.token_endpoint) as resp:
        assert resp.status == 405
        assert resp.content_type == "application/problem+json"
