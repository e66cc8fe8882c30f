"""Every way a token request can be wrong gets its RFC 6749 §5.2 error, and never a 500."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from fraudchannel import client, orgs
from tests.auth_fixtures import (
    Answer,
    MakeOrg,
    OrgCredentials,
    assertion_claims,
    post_token,
    sign_assertion,
)
from tests.conftest import Served

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _form(assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }


def assert_refused(answer: Answer, status: int, error: str, match: str = "") -> None:
    """Check an RFC 6749 §5.2 error that is also an RFC 9457 problem document."""
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.body
    assert body["error"] == error
    assert body["error_description"] == body["detail"]
    assert body["status"] == status
    assert body["title"]
    assert body["type"].startswith("https://")
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("private_key_jwt ")
    assert re.search(match, body["error_description"]), body["error_description"]


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


async def _try(
    http: aiohttp.ClientSession, server: Served, creds: OrgCredentials, **changes: Any
) -> Answer:
    claims = assertion_claims(creds, server.token_endpoint, **changes)
    return await post_token(http, server, _form(sign_assertion(creds, claims)))


# -- the algorithm ----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(
    alg: str, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    claims = assertion_claims(org, server.token_endpoint)
    unsigned = f"{_b64json({'alg': alg, 'kid': org.kid})}.{_b64json(claims)}."
    assert_refused(await post_token(http, server, _form(unsigned)), 401, "invalid_client", "alg")


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
    assert_refused(await post_token(http, server, _form(forged)), 401, "invalid_client", "alg")


async def test_an_alg_other_than_the_registered_one_is_refused(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    rs256 = await make_org(alg="RS256")
    as_ps256 = OrgCredentials(
        rs256.org_id, rs256.slug, rs256.role, rs256.kid, "PS256", rs256.private_key_pem
    )
    answer = await _try(http, server, as_ps256)
    assert_refused(answer, 401, "invalid_client", "registered alg RS256")


# -- which key --------------------------------------------------------------------------------


async def test_an_unknown_kid_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    claims = assertion_claims(org, server.token_endpoint)
    token = sign_assertion(org, claims, headers={"kid": "no-such-kid"})
    answer = await post_token(http, server, _form(token))
    assert_refused(answer, 401, "invalid_client", "no active key with this kid")


async def test_a_missing_kid_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    key = client.load_private_key(org.private_key_pem)
    token = jwt.encode(assertion_claims(org, server.token_endpoint), key, algorithm=org.alg)
    assert_refused(await post_token(http, server, _form(token)), 401, "invalid_client", "kid")


async def test_another_orgs_key_is_refused(
    org: OrgCredentials, make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    other = await make_org()
    # The other org's own key and kid, claiming to be `org`.
    claims = assertion_claims(org, server.token_endpoint)
    answer = await post_token(http, server, _form(sign_assertion(other, claims)))
    assert_refused(answer, 401, "invalid_client", "no active key")
    # `org`'s kid, but signed with the other org's key.
    forged = sign_assertion(other, claims | {"jti": uuid.uuid4().hex}, headers={"kid": org.kid})
    answer = await post_token(http, server, _form(forged))
    assert_refused(answer, 401, "invalid_client", "signature does not verify")


async def test_a_revoked_key_is_refused(
    org: OrgCredentials, pool: asyncpg.Pool, server: Served, http: aiohttp.ClientSession
) -> None:
    await orgs.revoke_key(pool, org.slug, org.kid)
    assert_refused(await _try(http, server, org), 401, "invalid_client", "no active key")


async def test_a_tampered_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    header, _, signature = sign_assertion(org, assertion_claims(org, server.token_endpoint)).split(
        "."
    )
    other = _b64json(assertion_claims(org, server.token_endpoint, exp=int(time.time()) + 200))
    answer = await post_token(http, server, _form(f"{header}.{other}.{signature}"))
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
    assert_refused(await _try(http, server, org, aud=value), 401, "invalid_client", match)


async def test_a_wrong_issuer_or_subject_is_refused(
    org: OrgCredentials, make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    other = await make_org()
    answer = await _try(http, server, org, sub=other.slug)
    assert_refused(answer, 401, "invalid_client", "iss and sub must both be the client id")
    answer = await _try(http, server, org, iss=other.slug)  # org's kid is not other's
    assert_refused(answer, 401, "invalid_client", "no active key")
    answer = await _try(http, server, org, iss=None)
    assert_refused(answer, 401, "invalid_client", "iss must be the client id")
    # pyjwt will not encode a number as iss; sign the payload bytes as a plain JWS.
    payload = json.dumps(assertion_claims(org, server.token_endpoint, iss=17)).encode()
    key = client.load_private_key(org.private_key_pem)
    numeric = jwt.api_jws.encode(payload, key, algorithm=org.alg, headers={"kid": org.kid})
    answer = await post_token(http, server, _form(numeric))
    assert_refused(answer, 401, "invalid_client", "iss must be the client id")


async def test_a_client_id_other_than_iss_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    form = _form(org.assertion(server.token_endpoint), client_id="someone-else")
    assert_refused(await post_token(http, server, form), 401, "invalid_client", "client_id")


@pytest.mark.parametrize("claim", ["exp", "jti", "sub", "aud"])
async def test_a_missing_claim_is_refused(
    claim: str, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    answer = await _try(http, server, org, **{claim: None})
    assert_refused(answer, 401, "invalid_client", f"lacks the {claim} claim")


async def test_an_expired_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    now = int(time.time())
    answer = await _try(http, server, org, iat=now - 300, exp=now - 60)
    assert_refused(answer, 401, "invalid_client", "expired")


async def test_clock_skew_within_the_leeway_is_accepted(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    now = int(time.time())
    assert (await _try(http, server, org, iat=now + 10, nbf=now + 10)).status == 200
    assert (await _try(http, server, org, iat=now - 100, exp=now - 10)).status == 200


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_an_assertion_from_the_future_is_refused(
    claim: str, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    later = int(time.time()) + 120
    answer = await _try(http, server, org, **{claim: later, "exp": later + 60})
    assert_refused(answer, 401, "invalid_client", "not valid yet")


async def test_exp_too_far_ahead_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    far = int(time.time()) + server.settings.assertion_max_ttl_s + 120
    answer = await _try(http, server, org, exp=far)
    assert_refused(answer, 401, "invalid_client", "more than 300 s ahead")
    at_limit = int(time.time()) + server.settings.assertion_max_ttl_s
    assert (await _try(http, server, org, exp=at_limit)).status == 200


@pytest.mark.parametrize(("claim", "value"), [("exp", "9999999999"), ("iat", True)])
async def test_non_numeric_dates_are_refused(
    claim: str, value: Any, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    answer = await _try(http, server, org, **{claim: value})
    assert_refused(answer, 401, "invalid_client", "")


@pytest.mark.parametrize("jti", ["", "x" * 257, 42])
async def test_a_bad_jti_is_refused(
    jti: Any, org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    assert_refused(await _try(http, server, org, jti=jti), 401, "invalid_client", "")


# -- single use -------------------------------------------------------------------------------


async def test_a_replayed_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    assertion = org.assertion(server.token_endpoint)
    assert (await post_token(http, server, _form(assertion))).status == 200
    answer = await post_token(http, server, _form(assertion))
    assert_refused(answer, 401, "invalid_client", "used before")


async def test_a_reused_jti_in_a_new_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    jti = uuid.uuid4().hex
    assert (await _try(http, server, org, jti=jti)).status == 200
    assert_refused(await _try(http, server, org, jti=jti), 401, "invalid_client", "used before")


async def test_the_same_jti_may_serve_two_organisations(
    org: OrgCredentials, make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    jti = uuid.uuid4().hex
    assert (await _try(http, server, org, jti=jti)).status == 200
    assert (await _try(http, server, await make_org(), jti=jti)).status == 200


async def test_a_replay_race_lets_exactly_one_through(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    assertion = org.assertion(server.token_endpoint)
    answers = await asyncio.gather(*(post_token(http, server, _form(assertion)) for _ in range(6)))
    assert sorted(a.status for a in answers) == [200, 401, 401, 401, 401, 401]


async def test_an_assertion_refused_for_its_scope_is_not_spent(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    assertion = org.assertion(server.token_endpoint)
    answer = await post_token(http, server, _form(assertion, scope="tickets:read"))
    assert_refused(answer, 400, "invalid_scope", "reporter role does not hold tickets:read")
    assert (await post_token(http, server, _form(assertion, scope="reports:read"))).status == 200


async def test_expired_assertion_ids_are_purged(
    org: OrgCredentials, pool: asyncpg.Pool, server: Served, http: aiohttp.ClientSession
) -> None:
    await pool.execute(
        "INSERT INTO used_assertions (org_id, jti, expires_at) "
        "VALUES ($1::uuid, 'old-one', now() - interval '1 hour')",
        org.org_id,
    )
    assert (await _try(http, server, org)).status == 200
    left = await pool.fetchval(
        "SELECT count(*) FROM used_assertions WHERE expires_at < now() - interval '1 minute'"
    )
    assert left == 0


# -- the organisation -------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "match"), [("suspended", "suspended"), ("revoked", "revoked")])
async def test_a_barred_organisation_is_refused(
    status: str,
    match: str,
    org: OrgCredentials,
    pool: asyncpg.Pool,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    await orgs.set_status(pool, org.slug, status)
    assert_refused(await _try(http, server, org), 401, "invalid_client", match)


async def test_an_organisation_past_its_validity_is_refused(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    now = datetime.now(UTC)
    lapsed = await make_org(valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1))
    assert_refused(await _try(http, server, lapsed), 401, "invalid_client", "no longer valid")


async def test_an_organisation_not_valid_yet_is_refused(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    early = await make_org(valid_from=datetime.now(UTC) + timedelta(days=1))
    assert_refused(await _try(http, server, early), 401, "invalid_client", "not valid yet")


# -- the request itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "assertion",
    [
        "not-a-jwt",
        "a.b.c",
        "eyJhbGciOiJFUzI1NiJ9",
        "eyJhbGciOiJFUzI1NiJ9.e30",
        "....",
        "\u00e9.x.y",
    ],
)
async def test_a_malformed_assertion_is_refused(
    assertion: str, server: Served, http: aiohttp.ClientSession
) -> None:
    assert_refused(await post_token(http, server, _form(assertion)), 401, "invalid_client", "")


async def test_an_oversized_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    big = sign_assertion(org, assertion_claims(org, server.token_endpoint, pad="x" * 9000))
    answer = await post_token(http, server, _form(big))
    assert_refused(answer, 400, "invalid_request", "longer than 8192 bytes")


async def test_an_oversized_body_is_refused(server: Served, http: aiohttp.ClientSession) -> None:
    answer = await post_token(http, server, _form("a.b.c", padding="x" * 20_000))
    assert_refused(answer, 400, "invalid_request", "larger than 16384 bytes")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap holds while reading
        yield b"grant_type=client_credentials&padding="
        for _ in range(40):
            yield b"x" * 1024

    answer = await post_token(
        http, server, chunks(), content_type="application/x-www-form-urlencoded"
    )
    assert_refused(answer, 400, "invalid_request", "larger than 16384 bytes")


@pytest.mark.parametrize(
    ("form", "status", "error", "match"),
    [
        ({"client_assertion": "a.b.c"}, 400, "invalid_request", "grant_type is missing"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", "client_credentials"),
        ({"grant_type": "client_credentials"}, 400, "invalid_request", "client_assertion_type"),
        (
            {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE},
            400,
            "invalid_request",
            "client_assertion is missing",
        ),
        (_form("a.b.c", client_secret="s3cret"), 400, "invalid_request", "client_secret"),
        (_form("a.b.c", scope="bad\\scope"), 400, "invalid_scope", "scope"),
    ],
)
async def test_bad_parameters_are_refused(
    form: dict[str, str],
    status: int,
    error: str,
    match: str,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    assert_refused(await post_token(http, server, form), status, error, match)


async def test_a_second_authentication_method_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    form = _form(org.assertion(server.token_endpoint))
    headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    async with http.post(server.token_endpoint, data=form, headers=headers) as resp:
        answer = Answer(resp.status, dict(resp.headers), await resp.json())
    assert_refused(answer, 400, "invalid_request", "no Authorization header")


async def test_a_repeated_parameter_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    fields = [*_form(org.assertion(server.token_endpoint)).items(), ("scope", "a"), ("scope", "b")]
    answer = await post_token(http, server, fields)
    assert_refused(answer, 400, "invalid_request", "scope repeated")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"grant_type=client_credentials", "text/plain"),
        (b"grant_type=%FF", "application/x-www-form-urlencoded"),
        (b"grant_type=\xc3\xa9", "application/x-www-form-urlencoded"),
        (b"grant_type", "application/x-www-form-urlencoded"),
        (b"&".join([b"a=1"] * 40), "application/x-www-form-urlencoded"),
    ],
)
async def test_a_body_that_is_no_form_is_refused(
    body: bytes, content_type: str, server: Served, http: aiohttp.ClientSession
) -> None:
    answer = await post_token(http, server, body, content_type=content_type)
    assert_refused(answer, 400, "invalid_request", "")


async def test_requesting_a_scope_the_role_lacks_is_invalid_scope(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    platform = await make_org(role="platform")
    form = _form(platform.assertion(server.token_endpoint), scope="tickets:read orgs:admin")
    answer = await post_token(http, server, form)
    assert_refused(answer, 400, "invalid_scope", "platform role does not hold orgs:admin")
