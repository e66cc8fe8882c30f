"""Access tokens on `/v1` routes: RFC 6750 errors, scopes, fail-closed routes, suspension."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import jwt
import pytest
import structlog
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from fraudchannel import client, orgs
from fraudchannel.app import create_app
from fraudchannel.http.render import json_response
from fraudchannel.http.routes import ScopedRoutes
from fraudchannel.keys import PRINCIPAL
from fraudchannel.settings import Settings
from tests.auth_fixtures import GetToken, MakeOrg, OrgCredentials, bearer
from tests.conftest import Served, free_port

_extra = ScopedRoutes()


@_extra.get("/v1/test/tickets", scope="tickets:read")
async def _tickets(request: web.Request) -> web.Response:
    """A route only the platform's tokens may call; it echoes the log context."""
    context = structlog.contextvars.get_contextvars()
    principal = request[PRINCIPAL]
    return json_response(
        {"slug": principal.slug, "tier": principal.trust_tier, "org_id": context.get("org_id")}
    )


async def _unguarded(_request: web.Request) -> web.Response:
    return json_response({"leaked": True})


@pytest.fixture(scope="module")
async def guarded(db_dsn: str) -> AsyncIterator[Served]:
    """Serve the app plus a tickets:read route and a route added around ScopedRoutes."""
    port = free_port()
    settings = Settings(
        database_url=db_dsn, host="127.0.0.1", port=port, db_pool_min=1, db_pool_max=2
    )
    app = create_app(settings)
    _extra.add_to(app)
    app.router.add_get("/v1/unguarded", _unguarded)  # no scope attribute at all
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Served(settings, settings.base_url, app)
    finally:
        await runner.cleanup()


async def _get(
    http: aiohttp.ClientSession, url: str, headers: Any = None
) -> tuple[int, dict[str, str], Any]:
    async with http.get(url, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.json(content_type=None)


def _assert_problem(status: int, headers: dict[str, str], body: Any, expected: int) -> None:
    assert status == expected, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == expected
    assert body["instance"]


async def _service_signer(pool: asyncpg.Pool) -> tuple[str, ec.EllipticCurvePrivateKey]:
    row = await pool.fetchrow("SELECT kid, private_pem FROM service_keys WHERE retired_at IS NULL")
    assert row is not None
    key = client.load_private_key(row["private_pem"].encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return row["kid"], key


def _claims(creds: OrgCredentials, server: Served, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": server.url,
        "aud": server.url,
        "sub": creds.slug,
        "client_id": creds.slug,
        "org": str(creds.org_id),
        "client_kid": creds.kid,
        "scope": "reports:read",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 60,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


# -- the Authorization header (RFC 6750 §2.1, §3.1) -------------------------------------------


async def test_no_token_is_401_without_error_code(
    server: Served, http: aiohttp.ClientSession
) -> None:
    status, headers, body = await _get(http, f"{server.url}/v1/whoami")
    _assert_problem(status, headers, body, 401)
    assert headers["WWW-Authenticate"] == 'Bearer realm="fraudchannel"'


async def test_another_scheme_is_401_without_error_code(
    server: Served, http: aiohttp.ClientSession
) -> None:
    status, headers, body = await _get(
        http, f"{server.url}/v1/whoami", {"Authorization": "Basic dXNlcjpwYXNz"}
    )
    _assert_problem(status, headers, body, 401)
    assert headers["WWW-Authenticate"] == 'Bearer realm="fraudchannel"'


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer one two"},
        {"Authorization": "Bearer a,b"},
        [("Authorization", "Bearer one"), ("Authorization", "Bearer two")],
    ],
)
async def test_a_garbled_header_is_400_invalid_request(
    headers: Any, server: Served, http: aiohttp.ClientSession
) -> None:
    status, answer_headers, body = await _get(http, f"{server.url}/v1/whoami", headers)
    _assert_problem(status, answer_headers, body, 400)
    assert 'error="invalid_request"' in answer_headers["WWW-Authenticate"]


@pytest.mark.parametrize("raw", [b"Bearer t\xc3\xb6k\xc3\xa9n", b"Bearer t\xe9st", b"Bearer \xff"])
async def test_non_ascii_in_the_header_is_refused(raw: bytes, server: Served) -> None:
    # aiohttp's client will not send these bytes, so speak HTTP/1.1 over a socket.
    where = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    writer.write(
        b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: "
        + raw
        + b"\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert b"Content-Type: application/problem+json" in head
    assert b'error="invalid_request"' in head


@pytest.mark.parametrize(
    "token", ["abc", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30.", "x" * 5000, "e30.e30.e30"]
)
async def test_a_malformed_or_oversized_token_is_401_invalid_token(
    token: str, server: Served, http: aiohttp.ClientSession
) -> None:
    status, headers, body = await _get(http, f"{server.url}/v1/whoami", bearer(token))
    _assert_problem(status, headers, body, 401)
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]


# -- the access token -------------------------------------------------------------------------


async def _refused(http: aiohttp.ClientSession, server: Served, token: str, match: str) -> None:
    status, headers, body = await _get(http, f"{server.url}/v1/whoami", bearer(token))
    _assert_problem(status, headers, body, 401)
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert match in body["detail"], body["detail"]


async def test_a_token_signed_by_another_key_is_refused(
    make_org: MakeOrg, pool: asyncpg.Pool, server: Served, http: aiohttp.ClientSession
) -> None:
    creds = await make_org()
    kid, _ = await _service_signer(pool)
    stranger = ec.generate_private_key(ec.SECP256R1())
    headers = {"kid": kid, "typ": "at+jwt"}
    forged = jwt.encode(_claims(creds, server), stranger, algorithm="ES256", headers=headers)
    await _refused(http, server, forged, "not valid")
    unknown = jwt.encode(
        _claims(creds, server),
        stranger,
        algorithm="ES256",
        headers={"kid": "nope", "typ": "at+jwt"},
    )
    await _refused(http, server, unknown, "not signed by a current key")


async def test_a_tampered_token_is_refused(
    make_org: MakeOrg, get_token: GetToken, server: Served, http: aiohttp.ClientSession
) -> None:
    token = await get_token(await make_org(), scope="reports:read")
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    widened = client.b64url(json.dumps(claims | {"scope": "reports:write"}).encode())
    await _refused(http, server, f"{header}.{widened}.{signature}", "not valid")
    assert payload != widened


async def test_an_expired_token_is_refused(
    make_org: MakeOrg, pool: asyncpg.Pool, server: Served, http: aiohttp.ClientSession
) -> None:
    creds = await make_org()
    kid, key = await _service_signer(pool)
    past = int(time.time()) - 3600
    claims = _claims(creds, server, iat=past, exp=past + 600)
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})
    await _refused(http, server, token, "expired")


@pytest.mark.parametrize(
    ("changes", "headers", "match"),
    [
        ({"aud": "https://elsewhere.example"}, {}, "not valid"),
        ({"iss": "https://elsewhere.example"}, {}, "not valid"),
        ({"org": str(uuid.uuid4())}, {}, "not valid"),
        ({"org": "not-a-uuid"}, {}, "not valid"),
        ({"sub": "someone-else"}, {}, "not valid"),
        ({"scope": None}, {}, "not valid"),
        ({"client_kid": None}, {}, "not valid"),
        ({"client_kid": 7}, {}, "not valid"),
        ({"client_kid": "no-such-kid"}, {}, "not valid"),
        ({"exp": None}, {}, "not valid"),
        ({}, {"typ": "JWT"}, "not issued by this service"),
    ],
)
async def test_a_token_with_wrong_claims_is_refused(
    changes: dict[str, Any],
    headers: dict[str, str],
    match: str,
    make_org: MakeOrg,
    pool: asyncpg.Pool,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    creds = await make_org()
    kid, key = await _service_signer(pool)
    all_headers = {"kid": kid, "typ": "at+jwt"} | headers
    token = jwt.encode(
        _claims(creds, server, **changes), key, algorithm="ES256", headers=all_headers
    )
    await _refused(http, server, token, match)


async def test_a_client_assertion_is_no_access_token(
    make_org: MakeOrg, server: Served, http: aiohttp.ClientSession
) -> None:
    creds = await make_org()
    await _refused(
        http, server, creds.assertion(server.token_endpoint), "not issued by this service"
    )


async def test_a_token_of_another_deployment_is_refused(
    make_org: MakeOrg,
    get_token: GetToken,
    guarded: Served,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    token = await get_token(await make_org(), server=guarded)  # aud is guarded's base URL
    await _refused(http, server, token, "not valid")


async def test_suspension_stops_an_issued_token_at_once(
    make_org: MakeOrg,
    get_token: GetToken,
    pool: asyncpg.Pool,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    creds = await make_org()
    token = await get_token(creds)
    url = f"{server.url}/v1/whoami"
    assert (await _get(http, url, bearer(token)))[0] == 200
    await orgs.set_status(pool, creds.slug, "suspended", reason="test")
    await _refused(http, server, token, "not active (suspended)")
    await orgs.set_status(pool, creds.slug, "active")
    assert (await _get(http, url, bearer(token)))[0] == 200
    await orgs.set_status(pool, creds.slug, "revoked")
    await _refused(http, server, token, "not active (revoked)")


async def test_a_lapsed_organisation_is_refused(
    make_org: MakeOrg,
    get_token: GetToken,
    pool: asyncpg.Pool,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    creds = await make_org()
    token = await get_token(creds)
    await pool.execute(
        "UPDATE organisations SET valid_from = now() - interval '2 days', "
        "valid_until = now() - interval '1 second' WHERE id = $1::uuid",
        creds.org_id,
    )
    await _refused(http, server, token, "not active (expired)")


# -- scopes and fail-closed routes --------------------------------------------------------------


async def test_a_scope_the_token_lacks_is_403_insufficient_scope(
    make_org: MakeOrg, get_token: GetToken, guarded: Served, http: aiohttp.ClientSession
) -> None:
    token = await get_token(await make_org(role="reporter"), server=guarded)
    status, headers, body = await _get(http, f"{guarded.url}/v1/test/tickets", bearer(token))
    _assert_problem(status, headers, body, 403)
    assert headers["WWW-Authenticate"] == (
        'Bearer realm="fraudchannel", error="insufficient_scope", scope="tickets:read"'
    )
    assert body["required_scope"] == "tickets:read"


async def test_a_narrowed_token_lacks_the_scopes_it_did_not_ask_for(
    make_org: MakeOrg, get_token: GetToken, guarded: Served, http: aiohttp.ClientSession
) -> None:
    platform = await make_org(role="platform", trust_tier=3)
    narrow = await get_token(platform, scope="tickets:write", server=guarded)
    status, *_ = await _get(http, f"{guarded.url}/v1/test/tickets", bearer(narrow))
    assert status == 403
    full = await get_token(platform, server=guarded)
    status, _, body = await _get(http, f"{guarded.url}/v1/test/tickets", bearer(full))
    assert status == 200
    # The middleware binds the organisation to the request's log context.
    assert body == {"slug": platform.slug, "tier": 3, "org_id": str(platform.org_id)}


async def test_a_route_without_a_scope_is_refused(
    make_org: MakeOrg, get_token: GetToken, guarded: Served, http: aiohttp.ClientSession
) -> None:
    token = await get_token(await make_org(role="admin"), server=guarded)
    for headers in (None, bearer(token)):
        status, _, body = await _get(http, f"{guarded.url}/v1/unguarded", headers)
        assert status == 500
        assert "leaked" not in body
        assert "declares no scope" in body["detail"]


async def test_unknown_paths_and_methods_pass_to_the_problem_middleware(
    server: Served, http: aiohttp.ClientSession
) -> None:
    status, headers, body = await _get(http, f"{server.url}/v1/no-such-route")
    _assert_problem(status, headers, body, 404)
    async with http.delete(f"{server.url}/v1/whoami") as resp:
        assert resp.status == 405
        assert resp.content_type == "application/problem+json"
