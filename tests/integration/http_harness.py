"""What the hostile-input tests share: posting a batch as raw bytes or a document with a
reporter's token, reading a path, and the client_refs stored so far."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp

from tests.auth_fixtures import GetToken, MakeOrg, bearer
from tests.builders import url_item
from tests.conftest import Served

BATCHES = "/v1/report-batches"
PROBLEM = "application/problem+json"


def item(ref: str, url: str | None = None, **over: Any) -> dict[str, Any]:
    """Return a valid phishing report `ref` of `url` (default: a fresh host)."""
    return url_item(ref, url or f"https://h-{uuid.uuid4().hex[:12]}.co.uk/login", **over)


async def reporter(make_org: MakeOrg, get_token: GetToken) -> str:
    """Return an access token of a fresh reporter organisation."""
    return await get_token(await make_org(role="reporter"))


async def post_raw(
    http: aiohttp.ClientSession,
    server: Served,
    token: str,
    body: bytes,
    **headers: str,
) -> tuple[int, str, Any]:
    """POST `body` as a batch; return (status, content type, JSON document or text)."""
    send = {**bearer(token), "Content-Type": "application/json", **headers}
    async with http.post(server.url + BATCHES, data=body, headers=send) as resp:
        text = await resp.text()
        try:
            doc = json.loads(text)
        except ValueError:
            doc = text
        return resp.status, resp.content_type, doc


async def post(
    http: aiohttp.ClientSession, server: Served, token: str, doc: Any, **headers: str
) -> tuple[int, str, Any]:
    return await post_raw(http, server, token, json.dumps(doc).encode(), **headers)


async def get(
    http: aiohttp.ClientSession, server: Served, token: str, path: str
) -> tuple[int, str, Any]:
    async with http.get(server.url + path, headers=bearer(token)) as resp:
        return resp.status, resp.content_type, await resp.json(content_type=None)


async def stored_refs(http: aiohttp.ClientSession, server: Served, token: str) -> list[str]:
    status, _, doc = await get(http, server, token, "/v1/reports?limit=1000")
    assert status == 200, doc
    return [r["client_ref"] for r in doc["items"]]
