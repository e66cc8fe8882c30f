"""The app over a real socket: health, readiness, and problem documents for aiohttp's errors."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fraudchannel.http.middleware import problem_responses, request_context
from tests.conftest import Served


async def test_healthz_answers(server: Served, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}
        assert resp.headers["X-Request-Id"]


async def test_readyz_reports_current_migrations(
    server: Served, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/readyz") as resp:
        assert resp.status == 200
        assert (await resp.json())["migrations"] == "current"


async def test_request_id_is_echoed_when_plain(server: Served, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/healthz", headers={"X-Request-Id": "abc-123"}) as resp:
        assert resp.headers["X-Request-Id"] == "abc-123"
    async with http.get(f"{server.url}/healthz", headers={"X-Request-Id": "bad id\u00e9"}) as resp:
        assert resp.headers["X-Request-Id"] != "bad id\u00e9"


async def test_unknown_path_is_a_problem_document(
    server: Served, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/nope") as resp:
        assert resp.status == 404
        assert resp.content_type == "application/problem+json"
        doc = await resp.json()
        assert doc["status"] == 404
        assert doc["type"] == "about:blank"
        assert doc["instance"] == "/nope"


async def test_wrong_method_is_a_problem_document_with_allow(
    server: Served, http: aiohttp.ClientSession
) -> None:
    async with http.delete(f"{server.url}/healthz") as resp:
        assert resp.status == 405
        assert resp.content_type == "application/problem+json"
        assert "GET" in resp.headers["Allow"]


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        ConnectionRefusedError(111, "Connection refused"),
        # Found by the second break-it run: a connection killed mid-transaction, a COPY cut off,
        # a connect that timed out, a statement cancelled behind a maintenance lock.
        asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the connection is closed"),
        asyncpg.InternalClientError("cannot switch to state 15"),
        TimeoutError(),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    ],
)
async def test_an_unreachable_database_is_503_with_retry_after_not_500(error: Exception) -> None:
    # Bug (found by a break-it run): with a worker per CPU, each with its own pool, PostgreSQL
    # ran out of connection slots and batches failed with 500.
    async def handler(request: web.Request) -> web.Response:
        raise error

    app = web.Application(middlewares=[request_context, problem_responses])
    app.router.add_get("/x", handler)
    async with TestServer(app) as test_server:
        client: TestClient[web.Request, None] = TestClient(test_server)
        async with client:
            resp = await client.get("/x")
            doc = await resp.json(content_type=None)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert doc["status"] == 503
    assert "same Idempotency-Key" in doc["detail"]
