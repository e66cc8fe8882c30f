"""Shared fixtures: a real PostgreSQL (DATABASE_URL's server, else an embedded one), a migrated
database per test session, and the app served over a real socket."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from hypothesis import HealthCheck, settings

from fraudchannel import db, migrations
from fraudchannel.app import create_app
from fraudchannel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.auth_fixtures"]

# Property tests draw the same examples on every run ("repeatable", the default), so a suite
# that passed once passes again; `make fuzz` draws fresh ones ("fuzz") to look for new failures,
# and each failure it finds becomes an @example. A test's own settings(...) override these.
_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,  # no .hypothesis/ folder in the tree
    "suppress_health_check": [HealthCheck.too_slow],
    "print_blob": True,
}
settings.register_profile("repeatable", derandomize=True, **_COMMON)
settings.register_profile("fuzz", derandomize=False, **_COMMON)
settings.load_profile("repeatable")  # `pytest --hypothesis-profile=fuzz` replaces it


def _swap_db(dsn: str, name: str) -> str:
    base, _, _ = dsn.rpartition("/")
    query = ""
    if "?" in dsn.rpartition("/")[2]:
        query = "?" + dsn.rpartition("/")[2].split("?", 1)[1]
    return f"{base}/{name}{query}"


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """Yield a superuser DSN: DATABASE_URL's server, or a temporary embedded one (fsync off)."""
    url = os.environ.get("DATABASE_URL") or os.environ.get("FRAUDCHANNEL_DATABASE_URL")
    if url:
        yield url
        return
    from fraudchannel.embedded_pg import EmbeddedPostgres

    folder = Path(tempfile.mkdtemp(prefix="fraudchannel-test-pg-"))
    server = EmbeddedPostgres(folder / "data", fsync=False, temporary=True)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_db(pg_admin_dsn: str) -> AsyncIterator[str]:
    """Yield the name of a freshly migrated template database (dropped at the end)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"fc_tpl_{worker}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(_swap_db(pg_admin_dsn, name))
        try:
            await migrations.migrate(conn)
        finally:
            await conn.close()
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def clone_db(
    pg_admin_dsn: str, template_db: str
) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Yield a factory of fresh migrated databases (DSNs), cloned from the template."""
    admin = await asyncpg.connect(pg_admin_dsn)
    made: list[str] = []

    async def clone() -> str:
        name = f"{template_db}_c{len(made)}"
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        made.append(name)
        return _swap_db(pg_admin_dsn, name)

    try:
        yield clone
    finally:
        for name in made:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def db_dsn(clone_db: Callable[[], Awaitable[str]]) -> str:
    """Return the DSN of the session's shared migrated database."""
    return await clone_db()


@pytest.fixture(scope="session")
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """Yield a pool on the session database (tests keep apart by their own organisations)."""
    p = await db.create_pool(db_dsn, min_size=1, max_size=8)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """Yield a connection inside a transaction that is rolled back after the test."""
    c = await asyncpg.connect(db_dsn)
    await db._init_connection(c)
    tx = c.transaction()
    await tx.start()
    try:
        yield c  # code under test may nest conn.transaction(): asyncpg makes it a savepoint
    finally:
        await tx.rollback()
        await c.close()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    """An app served on a real socket: its settings, base URL and the pool it uses."""

    settings: Settings
    url: str
    app: web.Application

    @property
    def token_endpoint(self) -> str:
        """Return the URL of POST /oauth/token."""
        return self.settings.token_endpoint


ServeFactory = Callable[..., Awaitable[Served]]


@pytest.fixture(scope="session")
async def serve(db_dsn: str) -> AsyncIterator[ServeFactory]:
    """Yield a factory that serves `create_app(Settings(**overrides))` on 127.0.0.1."""
    runners: list[web.AppRunner] = []

    async def start(dsn: str | None = None, **overrides: Any) -> Served:
        port = free_port()
        values: dict[str, Any] = {
            "database_url": dsn or db_dsn,
            "host": "127.0.0.1",
            "port": port,
            "log_format": "json",
            "db_pool_min": 1,
            "db_pool_max": 4,
        }
        values.update(overrides)
        settings = Settings(**values)
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return Served(settings, settings.base_url, app)

    try:
        yield start
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


@pytest.fixture(scope="session")
async def server(serve: ServeFactory) -> Served:
    """Return the session's shared server (default settings)."""
    return await serve()


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """Yield an HTTP client session."""
    async with aiohttp.ClientSession() as session:
        yield session
