"""Every way a token request can be wrong outside its assertion gets its RFC 6749 §5.2 error,
and never a 500: the organisation's standing (suspended, revoked, outside its validity) and the
request itself (malformed or oversized assertions and bodies, bad or repeated parameters)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from fraudchannel import orgs
from tests.auth_fixtures import (
    Answer,
    MakeOrg,
    OrgCredentials,
    assertion_claims,
    post_token,
    sign_assertion,
)
from tests.conftest import Served
from tests.integration.token_answers import (
    ASSERTION_TYPE,
    assert_refused,
    post_claims,
    token_form,
)


@pytest.fixture
async def org(make_org: MakeOrg) -> OrgCredentials:
    return await make_org()


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
    assert_refused(await post_claims(http, server, org), 401, "invalid_client", match)


async def test_an_organisation_past_its_validity_is_refused(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    now = datetime.now(UTC)
    lapsed = await make_org(valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1))
    assert_refused(
        await post_claims(http, server, lapsed), 401, "invalid_client", "no longer valid"
    )


async def test_an_organisation_not_valid_yet_is_refused(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    early = await make_org(valid_from=datetime.now(UTC) + timedelta(days=1))
    assert_refused(await post_claims(http, server, early), 401, "invalid_client", "not valid yet")


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
    assert_refused(await post_token(http, server, token_form(assertion)), 401, "invalid_client", "")


async def test_an_oversized_assertion_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    big = sign_assertion(org, assertion_claims(org, server.token_endpoint, pad="x" * 9000))
    answer = await post_token(http, server, token_form(big))
    assert_refused(answer, 400, "invalid_request", "longer than 8192 bytes")


async def test_an_oversized_body_is_refused(server: Served, http: aiohttp.ClientSession) -> None:
    answer = await post_token(http, server, token_form("a.b.c", padding="x" * 20_000))
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
        (token_form("a.b.c", client_secret="s3cret"), 400, "invalid_request", "client_secret"),
        (token_form("a.b.c", scope="bad\\scope"), 400, "invalid_scope", "scope"),
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
    form = token_form(org.assertion(server.token_endpoint))
    headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    async with http.post(server.token_endpoint, data=form, headers=headers) as resp:
        answer = Answer(resp.status, dict(resp.headers), await resp.json())
    assert_refused(answer, 400, "invalid_request", "no Authorization header")


async def test_a_repeated_parameter_is_refused(
    org: OrgCredentials, server: Served, http: aiohttp.ClientSession
) -> None:
    fields = [
        *token_form(org.assertion(server.token_endpoint)).items(),
        ("scope", "a"),
        ("scope", "b"),
    ]
    answer = await post_token(http, server, fields)
    assert_refused(answer, 400, "invalid_request", "scope repeated")


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"grant_type": "client_credentials"}', "application/json", ""),
        (b"grant_type=client_credentials", "text/plain", ""),
        (b"grant_type=%FF", FORM, "not a valid UTF-8 form"),
        (b"grant_type=\xc3\xa9", FORM, "not a valid UTF-8 form"),
        (b"grant_type", FORM, "not a valid UTF-8 form"),
        # a reviewer's finding: this was "not a valid UTF-8 form" too
        (b"&".join([b"a=1"] * 40), FORM, "more than 32 form parameters"),
    ],
)
async def test_a_body_that_is_no_form_is_refused(
    body: bytes, content_type: str, reason: str, server: Served, http: aiohttp.ClientSession
) -> None:
    answer = await post_token(http, server, body, content_type=content_type)
    assert_refused(answer, 400, "invalid_request", reason)


async def test_requesting_a_scope_the_role_lacks_is_invalid_scope(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    platform = await make_org(role="platform")
    form = token_form(platform.assertion(server.token_endpoint), scope="tickets:read orgs:admin")
    answer = await post_token(http, server, form)
    assert_refused(answer, 400, "invalid_scope", "platform role does not hold orgs:admin")
