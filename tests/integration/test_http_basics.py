"""The app over a real socket: health, readiness, and problem documents for aiohttp's errors."""

from __future__ import annotations

import aiohttp

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
