"""Requests aiohttp's HTTP parser refuses before the app (bad method, oversized header, chunked
with a length, too many headers), and HEAD on every GET route: problem documents, never
text/plain."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import aiohttp
import pytest

from fraudchannel.http.middleware import LINE_TOO_LONG
from fraudchannel.logs import configure_logging
from tests.auth_fixtures import GetToken, MakeOrg, bearer
from tests.conftest import Served
from tests.integration.http_harness import PROBLEM, reporter

# ---- HTTP methods and requests the HTTP parser refuses ----------------------------------------


async def test_head_is_answered_on_every_get_route(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    # Bug: GET routes answered HEAD with 405 (RFC 9110 §9.3.2: a server supporting GET should
    # support HEAD).
    token = await reporter(make_org, get_token)
    for path in ("/healthz", "/.well-known/jwks.json", "/v1/whoami", "/v1/reports"):
        async with http.head(server.url + path, headers=bearer(token)) as resp:
            assert resp.status == 200, path
    async with http.head(server.url + "/v1/reports") as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def _raw_exchange(server: Served, request: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = server.settings.host, server.settings.port
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


@pytest.mark.parametrize(
    "request_head",
    [
        b"FROB /v1/reports HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + b"a" * 9000
        + b"\r\nConnection: close\r\n\r\n",
        b"POST /v1/report-batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        b"GET /v1/reports HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: y\r\n" % i for i in range(200))
        + b"Connection: close\r\n\r\n",
    ],
    ids=["unknown-method", "huge-authorization", "chunked-and-length", "too-many-headers"],
)
async def test_requests_the_http_parser_refuses_get_problem_documents(
    server: Served, request_head: bytes
) -> None:
    # Bug: aiohttp's parser errors (bad method, oversized header, unknown coding, too many
    # headers) were answered text/plain, not application/problem+json.
    status, headers, body = await _raw_exchange(server, request_head)
    assert 400 <= status < 500
    assert headers["content-type"].startswith(PROBLEM), body
    doc = json.loads(body)
    assert doc["status"] == status
    assert doc["type"] == "about:blank"
    assert doc["title"]
    assert doc["detail"]
    assert doc["instance"] == "urn:uuid:" + str(uuid.UUID(headers["x-request-id"]))
    assert headers["x-request-id"]
    if b"a" * 9000 in request_head:  # named, with what to shorten; the bytes never echoed
        assert doc["detail"] == LINE_TOO_LONG


async def test_the_log_line_of_a_refused_request_names_its_request_id(
    server: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    # A reviewer's finding: "client_request_unreadable" lines could not be tied to the answer.
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("info", "json")
    try:
        request = b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n"
        _, headers, _ = await _raw_exchange(server, request)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    refused = [line for line in lines if line["event"].startswith("client_request_unreadable")]
    assert [line["request_id"] for line in refused] == [headers["x-request-id"]]
