"""Every way a token request's client assertion can be wrong gets its RFC 6749 §5.2 error, and
never a 500: its algorithm, its key, its claims and its single use (RFC 7523 §3). The
organisation and the request itself are in test_token_request_refusals.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import aiohttp
import asyncpg
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from fraudchannel import client, orgs
from tests.auth_fixtures import (
    MakeOrg,
    OrgCredentials,
    assertion_claims,
    post_token,
    sign_assertion,
)
from tests.conftest import Served
from tests.integration.token_answers import (
    assert_refused,
    post_claims,
    token_form,
)


def _b64json(value: dict[str, Any]) -> str:
    return client.b64url(json.dumps(value).encode())


def _public_pem(creds: OrgCredentials) -> bytes:
    key = client.load_private_key(creds.private_key_pem)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
async def org(make_org: MakeOrg) -> OrgCredentials:
    return await make_org()


# -- the algorithm ----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(
    alg: str, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    claims = assertion_claims(org, server.token_endpoint)
    unsigned = f"{_b64json({'alg': alg, 'kid': org.kid})}.{_b64json(claims)}."
    assert_refused(
        await post_token(http, server, token_form(unsigned)), 401, "invalid_client", "alg"
    )


@pytest.mark.parametrize("secret", ["pem", "jwk"])
async def test_hs256_signed_with_the_public_key_is_refused(
    secret: str, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    # Algorithm confusion: an HMAC keyed with the (public) verification key. pyjwt refuses to
    # make such a token, so it is made by hand.
    key = client.load_private_key(org.private_key_pem)
    material = (
        _public_pem(org)
        if secret == "pem"
        else json.dumps(client.public_jwk(key, org.alg)).encode()
    )
    claims = assertion_claims(org, server.token_endpoint)
    signing_input = f"{_b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': org.kid})}.{_b64json(claims)}"
    mac = hmac.new(material, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{client.b64url(mac)}"
    assert_refused(await post_token(http, server, token_form(forged)), 401, "invalid_client", "alg")


async def test_an_alg_other_than_the_registered_one_is_refused(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    rs256 = await make_org(alg="RS256")
    as_ps256 = OrgCredentials(
        rs256.org_id, rs256.slug, rs256.role, rs256.kid, "PS256", rs256.private_key_pem
    )
    answer = await post_claims(http, server, as_ps256)
    assert_refused(answer, 401, "invalid_client", "registered alg RS256")


# -- which key --------------------------------------------------------------------------------


async def test_an_unknown_kid_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    claims = assertion_claims(org, server.token_endpoint)
    token = sign_assertion(org, claims, headers={"kid": "no-such-kid"})
    answer = await post_token(http, server, token_form(token))
    assert_refused(answer, 401, "invalid_client", "no active key with this kid")


async def test_a_missing_kid_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    key = client.load_private_key(org.private_key_pem)
    token = jwt.encode(assertion_claims(org, server.token_endpoint), key, algorithm=org.alg)
    assert_refused(await post_token(http, server, token_form(token)), 401, "invalid_client", "kid")


async def test_another_orgs_key_is_refused(
    org: OrgCredentials, make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    other = await make_org()
    # The other org's own key and kid, claiming to be `org`.
    claims = assertion_claims(org, server.token_endpoint)
    answer = await post_token(http, server, token_form(sign_assertion(other, claims)))
    assert_refused(answer, 401, "invalid_client", "no active key")
    # `org`'s kid, but signed with the other org's key.
    forged = sign_assertion(other, claims | {"jti": uuid.uuid4().hex}, headers={"kid": org.kid})
    answer = await post_token(http, server, token_form(forged))
    assert_refused(answer, 401, "invalid_client", "signature does not verify")


async def test_a_revoked_key_is_refused(
    org: OrgCredentials, pool: asyncpg.Pool, server: Served, http: aiohttp.ClientSession
) -> None:
    await orgs.revoke_key(pool, org.slug, org.kid)
    assert_refused(await post_claims(http, server, org), 401, "invalid_client", "no active key")


async def test_a_tampered_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    header, _, signature = sign_assertion(org, assertion_claims(org, server.token_endpoint)).split(
        "."
    )
    other = _b64json(assertion_claims(org, server.token_endpoint, exp=int(time.time()) + 200))
    answer = await post_token(http, server, token_form(f"{header}.{other}.{signature}"))
    assert_refused(answer, 401, "invalid_client", "signature does not verify")


# -- the claims -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aud", "match"),
    [
        ("https://elsewhere.example/oauth/token", "aud must be exactly"),
        ("BASE", "aud must be exactly"),
        ("LIST", "not valid|aud"),
    ],
)
async def test_a_wrong_audience_is_refused(
    aud: str, match: str, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    value: Any = {"BASE": server.url, "LIST": [server.token_endpoint]}.get(aud, aud)
    assert_refused(await post_claims(http, server, org, aud=value), 401, "invalid_client", match)


async def test_a_wrong_issuer_or_subject_is_refused(
    org: OrgCredentials, make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    other = await make_org()
    answer = await post_claims(http, server, org, sub=other.slug)
    assert_refused(answer, 401, "invalid_client", "iss and sub must both be the client id")
    answer = await post_claims(http, server, org, iss=other.slug)  # org's kid is not other's
    assert_refused(answer, 401, "invalid_client", "no active key")
    answer = await post_claims(http, server, org, iss=None)
    assert_refused(answer, 401, "invalid_client", "iss must be the client id")
    # pyjwt will not encode a number as iss; sign the payload bytes as a plain JWS.
    payload = json.dumps(assertion_claims(org, server.token_endpoint, iss=17)).encode()
    key = client.load_private_key(org.private_key_pem)
    numeric = jwt.api_jws.encode(payload, key, algorithm=org.alg, headers={"kid": org.kid})
    answer = await post_token(http, server, token_form(numeric))
    assert_refused(answer, 401, "invalid_client", "iss must be the client id")


async def test_a_client_id_other_than_iss_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    form = token_form(org.assertion(server.token_endpoint), client_id="someone-else")
    assert_refused(await post_token(http, server, form), 401, "invalid_client", "client_id")


@pytest.mark.parametrize("claim", ["exp", "jti", "sub", "aud"])
async def test_a_missing_claim_is_refused(
    claim: str, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    answer = await post_claims(http, server, org, **{claim: None})
    assert_refused(answer, 401, "invalid_client", f"lacks the {claim} claim")


async def test_an_expired_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    now = int(time.time())
    answer = await post_claims(http, server, org, iat=now - 300, exp=now - 60)
    assert_refused(answer, 401, "invalid_client", "expired")


async def test_clock_skew_within_the_leeway_is_accepted(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    now = int(time.time())
    assert (await post_claims(http, server, org, iat=now + 10, nbf=now + 10)).status == 200
    assert (await post_claims(http, server, org, iat=now - 100, exp=now - 10)).status == 200


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_an_assertion_from_the_future_is_refused(
    claim: str, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    later = int(time.time()) + 120
    answer = await post_claims(http, server, org, **{claim: later, "exp": later + 60})
    assert_refused(answer, 401, "invalid_client", "not valid yet")


async def test_exp_too_far_ahead_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    far = int(time.time()) + server.settings.assertion_max_ttl_s + 120
    answer = await post_claims(http, server, org, exp=far)
    assert_refused(answer, 401, "invalid_client", "more than 300 s ahead")
    at_limit = int(time.time()) + server.settings.assertion_max_ttl_s
    assert (await post_claims(http, server, org, exp=at_limit)).status == 200


@pytest.mark.parametrize(("claim", "value"), [("exp", "9999999999"), ("iat", True)])
async def test_non_numeric_dates_are_refused(
    claim: str, value: Any, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    answer = await post_claims(http, server, org, **{claim: value})
    assert_refused(answer, 401, "invalid_client", "")


@pytest.mark.parametrize("jti", ["", "x" * 257, 42])
async def test_a_bad_jti_is_refused(
    jti: Any, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    assert_refused(await post_claims(http, server, org, jti=jti), 401, "invalid_client", "")


# -- single use -------------------------------------------------------------------------------


async def test_a_replayed_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    assertion = org.assertion(server.token_endpoint)
    assert (await post_token(http, server, token_form(assertion))).status == 200
    answer = await post_token(http, server, token_form(assertion))
    assert_refused(answer, 401, "invalid_client", "used before")


async def test_a_reused_jti_in_a_new_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    jti = uuid.uuid4().hex
    assert (await post_claims(http, server, org, jti=jti)).status == 200
    assert_refused(
        await post_claims(http, server, org, jti=jti), 401, "invalid_client", "used before"
    )


async def test_the_same_jti_may_serve_two_organisations(
    org: OrgCredentials, make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    jti = uuid.uuid4().hex
    assert (await post_claims(http, server, org, jti=jti)).status == 200
    assert (await post_claims(http, server, await make_org(), jti=jti)).status == 200


async def test_a_replay_race_lets_exactly_one_through(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    assertion = org.assertion(server.token_endpoint)
    answers = await asyncio.gather(
        *(post_token(http, server, token_form(assertion)) for _ in range(6))
    )
    assert sorted(a.status for a in answers) == [200, 401, 401, 401, 401, 401]


async def test_an_assertion_refused_for_its_scope_is_not_spent(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    assertion = org.assertion(server.token_endpoint)
    answer = await post_token(http, server, token_form(assertion, scope="tickets:read"))
    assert_refused(answer, 400, "invalid_scope", "reporter role does not hold tickets:read")
    assert (
        await post_token(http, server, token_form(assertion, scope="reports:read"))
    ).status == 200


async def test_expired_assertion_ids_are_purged(
    org: OrgCredentials, pool: asyncpg.Pool, server: Served, http: aiohttp.ClientSession
) -> None:
    await pool.execute(
        "INSERT INTO used_assertions (org_id, jti, expires_at) "
        "VALUES ($1::uuid, 'old-one', now() - interval '1 hour')",
        org.org_id,
    )
    assert (await post_claims(http, server, org)).status == 200
    left = await pool.fetchval(
        "SELECT count(*) FROM used_assertions WHERE expires_at < now() - interval '1 minute'"
    )
    assert left == 0
