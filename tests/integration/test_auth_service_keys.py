"""The service's signing keys: created once on first start, rotated with no token left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import asyncpg
import jwt
import pytest

from fraudchannel import client, db, service_keys
from tests.auth_fixtures import OrgCredentials, bearer, register_org
from tests.conftest import Served, ServeFactory

PUBLIC_URL = "http://fraudchannel.test"  # one issuer and audience for every server of a test


@pytest.fixture
async def fresh_dsn(clone_db: Callable[[], Awaitable[str]]) -> str:
    """Return the DSN of a freshly migrated database with no service key yet."""
    return await clone_db()


@pytest.fixture
async def fresh_pool(fresh_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """Yield a pool on the fresh database."""
    pool = await db.create_pool(fresh_dsn, min_size=1, max_size=8)
    try:
        yield pool
    finally:
        await pool.close()


def _socket_url(served: Served) -> str:
    return f"http://127.0.0.1:{served.settings.port}"


async def _token(
    http: aiohttp.ClientSession, served: Served, creds: OrgCredentials
) -> tuple[str, str]:
    """Return (access token, its kid) from `served`, whose public URL is not its socket."""
    form = client.token_form(creds.assertion(served.settings.token_endpoint))
    async with http.post(f"{_socket_url(served)}/oauth/token", data=form) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    token: str = body["access_token"]
    return token, jwt.get_unverified_header(token)["kid"]


async def _whoami(http: aiohttp.ClientSession, served: Served, token: str) -> int:
    async with http.get(f"{_socket_url(served)}/v1/whoami", headers=bearer(token)) as resp:
        return resp.status


async def _jwks_kids(http: aiohttp.ClientSession, served: Served) -> set[str]:
    async with http.get(f"{_socket_url(served)}/.well-known/jwks.json") as resp:
        return {k["kid"] for k in (await resp.json())["keys"]}


async def test_the_first_start_creates_one_key_even_when_racing(fresh_pool: asyncpg.Pool) -> None:
    assert await fresh_pool.fetchval("SELECT count(*) FROM service_keys") == 0
    kids = await asyncio.gather(*(service_keys.ensure_service_key(fresh_pool) for _ in range(8)))
    assert len(set(kids)) == 1
    assert await fresh_pool.fetchval("SELECT count(*) FROM service_keys") == 1
    assert await service_keys.ensure_service_key(fresh_pool) == kids[0]


async def test_servers_starting_together_share_one_key(
    fresh_dsn: str, fresh_pool: asyncpg.Pool, serve: ServeFactory, http: aiohttp.ClientSession
) -> None:
    first, second = await asyncio.gather(serve(fresh_dsn), serve(fresh_dsn))
    assert await _jwks_kids(http, first) == await _jwks_kids(http, second)
    assert await fresh_pool.fetchval("SELECT count(*) FROM service_keys") == 1


async def test_rotation_keeps_old_tokens_and_signs_new_ones_with_the_new_key(
    fresh_dsn: str, fresh_pool: asyncpg.Pool, serve: ServeFactory, http: aiohttp.ClientSession
) -> None:
    issuer = await serve(fresh_dsn, public_url=PUBLIC_URL)
    verifier = await serve(fresh_dsn, public_url=PUBLIC_URL)  # another process on the same database
    creds = await register_org(fresh_pool)
    old_token, old_kid = await _token(http, issuer, creds)
    assert await _whoami(http, verifier, old_token) == 200

    retired, new_kid = await service_keys.rotate(fresh_pool)
    assert retired == old_kid != new_kid

    new_token, kid = await _token(http, issuer, creds)
    assert kid == new_kid
    for served in (issuer, verifier):
        assert await _whoami(http, served, old_token) == 200  # valid until it expires
        assert await _whoami(http, served, new_token) == 200  # unknown kid: keyring reloads
        assert await _jwks_kids(http, served) == {old_kid, new_kid}

    listed = await service_keys.list_service_keys(fresh_pool, issuer.settings)
    assert [(k.kid, k.state) for k in listed] == [(new_kid, "active"), (old_kid, "published")]
    private = await fresh_pool.fetchval(
        "SELECT private_pem FROM service_keys WHERE kid = $1::text", old_kid
    )
    assert private is None  # a retired key never signs again


async def test_a_key_retired_beyond_the_token_lifetime_is_withdrawn(
    fresh_dsn: str, fresh_pool: asyncpg.Pool, serve: ServeFactory, http: aiohttp.ClientSession
) -> None:
    served = await serve(fresh_dsn, public_url=PUBLIC_URL)
    creds = await register_org(fresh_pool)
    old_token, old_kid = await _token(http, served, creds)
    await service_keys.rotate(fresh_pool)
    window = service_keys.publication_window(served.settings)
    await fresh_pool.execute(
        "UPDATE service_keys SET retired_at = now() - $1::interval WHERE kid = $2::text",
        window * 2,
        old_kid,
    )
    assert old_kid not in await _jwks_kids(http, served)
    assert await _whoami(http, served, old_token) == 401
    listed = await service_keys.list_service_keys(fresh_pool, served.settings)
    assert [k.state for k in listed] == ["active", "retired"]


async def test_concurrent_rotations_leave_one_active_key(
    fresh_pool: asyncpg.Pool, server: Served
) -> None:
    await service_keys.ensure_service_key(fresh_pool)
    results = await asyncio.gather(*(service_keys.rotate(fresh_pool) for _ in range(4)))
    active = await fresh_pool.fetch("SELECT kid FROM service_keys WHERE retired_at IS NULL")
    assert len(active) == 1
    assert len({new for _, new in results}) == 4
    assert sorted(
        k.state for k in await service_keys.list_service_keys(fresh_pool, server.settings)
    ) == [
        "active",
        *["published"] * 4,
    ]
