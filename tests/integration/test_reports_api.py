"""POST /v1/report-batches and the reporter's reads, over real HTTP with real access tokens."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
import pytest

from fraudchannel.http.reports import REPLAYED_HEADER
from tests.auth_fixtures import GetToken, MakeOrg, bearer
from tests.builders import batch, host, url_item
from tests.conftest import Served, ServeFactory

BATCHES = "/v1/report-batches"
PROBLEM = "application/problem+json"


async def reporter(make_org: MakeOrg, get_token: GetToken, server: Served | None = None) -> str:
    creds = await make_org(role="reporter")
    return await get_token(creds, server=server)


async def post_raw(
    http: aiohttp.ClientSession,
    server: Served,
    token: str,
    body: bytes,
    content_type: str = "application/json",
    **headers: str,
) -> tuple[int, str, dict[str, Any]]:
    send = {**bearer(token), "Content-Type": content_type, **headers}
    async with http.post(server.url + BATCHES, data=body, headers=send) as resp:
        text = await resp.text()
        return resp.status, resp.content_type, json.loads(text)


async def post(
    http: aiohttp.ClientSession, server: Served, token: str, doc: Any, **headers: str
) -> tuple[int, str, dict[str, Any]]:
    return await post_raw(http, server, token, json.dumps(doc).encode(), **headers)


async def get(
    http: aiohttp.ClientSession, server: Served, token: str, path: str
) -> tuple[int, dict[str, Any]]:
    async with http.get(server.url + path, headers=bearer(token)) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_post_answers_202_with_every_item(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    h = host()
    status, ctype, doc = await post(
        http,
        server,
        token,
        batch(
            [url_item("a", f"http://{h}/x"), url_item("b", "::"), url_item("c", f"https://{h}/x")]
        ),
    )
    assert (status, ctype) == (202, "application/json")
    assert [i["index"] for i in doc["items"]] == [0, 1, 2]
    assert doc["items"][0]["outcome"] == "new_ticket"
    assert doc["items"][1]["errors"][0]["pointer"] == "/reports/1/target/url"
    assert doc["items"][2]["outcome"] == "linked_to_open_ticket"
    assert doc["counts"]["accepted"] == 2
    uuid.UUID(doc["batch_id"])
    assert doc["received_at"].endswith("Z")


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{}", "text/plain", 415),
        (b"{}", "application/x-www-form-urlencoded", 415),
        (b'{"a": 1}', "application/json; charset=latin-1", 415),
        (b"not json", "application/json", 400),
        (b'{"schema_version": "1", "x": "\xff\xfe"}', "application/json", 400),
        (b'{"schema_version": "\\ud800"}', "application/json", 400),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),
        (b"", "application/json", 400),
        (b"[]", "application/json", 422),
        (b'{"schema_version": "1\\u0000"}', "application/json", 422),
    ],
    ids=[
        "text",
        "form",
        "latin1",
        "not-json",
        "bad-utf8",
        "lone-surrogate",
        "deep",
        "empty",
        "array",
        "nul-in-envelope",
    ],
)
async def test_bad_bodies_are_problems_never_500(
    server: Served,
    http: aiohttp.ClientSession,
    make_org: MakeOrg,
    get_token: GetToken,
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    token = await reporter(make_org, get_token)
    got, ctype, doc = await post_raw(http, server, token, body, content_type)
    assert (got, ctype) == (status, PROBLEM)
    assert doc["status"] == status


async def test_envelope_errors_carry_pointers(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    doc = batch([url_item("a", "https://x.co.uk")], good_faith=False)
    doc["submitter"]["name"] = "n" * 10_000
    status, ctype, problem = await post(http, server, token, doc)
    assert (status, ctype) == (422, PROBLEM)
    assert {e["pointer"] for e in problem["errors"]} == {"/good_faith", "/submitter/name"}


async def test_bad_strings_in_items_reject_only_those_items(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    items = [
        url_item("huge", "https://x.co.uk", explanation="x" * 1_000_000),
        url_item("nul", "https://x.co.uk/\u0000"),
        url_item("ok", f"https://{host()}/"),
    ]
    status, _, doc = await post(http, server, token, batch(items))
    assert status == 202
    assert doc["items"][0]["errors"][0]["code"] == "string_too_long"
    assert doc["items"][1]["errors"][0]["code"] == "nul_character"
    assert doc["items"][2]["outcome"] == "new_ticket"


async def test_more_items_than_allowed_is_422(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    items = [{"client_ref": str(i)} for i in range(10_001)]
    status, ctype, problem = await post(http, server, token, batch(items))
    assert (status, ctype) == (422, PROBLEM)
    assert problem["errors"][0]["pointer"] == "/reports"


async def test_the_item_limit_follows_the_setting(
    serve: ServeFactory, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    small = await serve(max_batch_reports=2)
    token = await reporter(make_org, get_token, small)
    items = [url_item(str(i), f"https://{host()}/") for i in range(3)]
    status, _, problem = await post(http, small, token, batch(items))
    assert status == 422
    assert "at most 2" in problem["errors"][0]["detail"]


async def test_an_oversize_body_is_413(
    serve: ServeFactory, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    small = await serve(max_body_bytes=4096)
    token = await reporter(make_org, get_token, small)
    items = [url_item(str(i), f"https://{host()}/") for i in range(100)]
    status, ctype, problem = await post(http, small, token, batch(items))
    assert (status, ctype) == (413, PROBLEM)
    assert problem["status"] == 413


async def test_idempotency_key_replays_and_refuses_reuse(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    body = json.dumps(batch([url_item("k", f"https://{host()}/")])).encode()
    headers = {**bearer(token), "Content-Type": "application/json", "Idempotency-Key": "b-1"}
    answers = []
    for _ in range(2):
        async with http.post(server.url + BATCHES, data=body, headers=headers) as resp:
            answers.append((resp.status, await resp.read(), resp.headers.get(REPLAYED_HEADER)))
    assert answers[0][:2] == answers[1][:2]
    assert answers[0][0] == 202
    assert [a[2] for a in answers] == [None, "true"]  # the replay says so; nothing else differs
    other = json.dumps(batch([url_item("k2", f"https://{host()}/")])).encode()
    async with http.post(server.url + BATCHES, data=other, headers=headers) as resp:
        problem = await resp.json(content_type=None)
        assert resp.status == 422
        assert problem["type"].endswith("/idempotency-key-reused")


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
async def test_a_malformed_idempotency_key_is_400(
    server: Served,
    http: aiohttp.ClientSession,
    make_org: MakeOrg,
    get_token: GetToken,
    key: str,
) -> None:
    token = await reporter(make_org, get_token)
    body = json.dumps(batch([url_item("k", f"https://{host()}/")])).encode()
    headers = {**bearer(token), "Content-Type": "application/json", "Idempotency-Key": key}
    async with http.post(server.url + BATCHES, data=body, headers=headers) as resp:
        assert resp.status == 400
        assert resp.content_type == PROBLEM


async def test_four_concurrent_submitters_over_http_share_tickets(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    tokens = [await reporter(make_org, get_token) for _ in range(4)]
    hosts = [host() for _ in range(30)]
    docs = await asyncio.gather(
        *(
            post(
                http,
                server,
                t,
                batch([url_item(h, f"https://{h}/") for h in hosts[k:] + hosts[:k]]),
            )
            for k, t in enumerate(tokens)
        )
    )
    assert all(status == 202 for status, _, _ in docs)
    tickets = {i["ticket_id"] for _, _, d in docs for i in d["items"]}
    assert len(tickets) == len(hosts)
    outcomes = [i["outcome"] for _, _, d in docs for i in d["items"]]
    assert outcomes.count("new_ticket") == len(hosts)


async def test_scopes_and_tokens_guard_the_routes(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    creds = await make_org(role="reporter")
    read_only = await get_token(creds, scope="reports:read")
    status, _, _ = await post(http, server, read_only, batch([url_item("a", "https://x.co.uk")]))
    assert status == 403
    async with http.post(server.url + BATCHES, json={}) as resp:
        assert resp.status == 401
    async with http.get(server.url + "/v1/reports") as resp:
        assert resp.status == 401


async def test_reads_show_only_the_callers_own_batches_and_reports(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    mine, theirs = await reporter(make_org, get_token), await reporter(make_org, get_token)
    h = host()
    _, _, my_batch = await post(http, server, mine, batch([url_item("m1", f"https://{h}/")]))
    _, _, their_batch = await post(http, server, theirs, batch([url_item("t1", f"https://{h}/")]))
    my_report = my_batch["items"][0]["report_id"]
    their_report = their_batch["items"][0]["report_id"]
    assert my_batch["items"][0]["ticket_id"] == their_batch["items"][0]["ticket_id"]

    status, doc = await get(http, server, mine, f"{BATCHES}/{my_batch['batch_id']}")
    assert (status, doc) == (200, my_batch)
    status, doc = await get(http, server, mine, f"/v1/reports/{my_report}")
    assert status == 200
    assert doc["client_ref"] == "m1"
    assert doc["report"] == url_item("m1", f"https://{h}/")
    assert doc["status"] == "open"
    assert doc["target"]["registrable_domain"] == h
    assert "org_count" not in json.dumps(doc)

    for path in (
        f"{BATCHES}/{their_batch['batch_id']}",
        f"/v1/reports/{their_report}",
        f"{BATCHES}/{uuid.uuid4()}",
        f"/v1/reports/{uuid.uuid4()}",
        f"{BATCHES}/not-a-uuid",
        "/v1/reports/%00",
        "/v1/reports/" + "9" * 300,
    ):
        status, problem = await get(http, server, mine, path)
        assert status == 404, path
        assert problem["status"] == 404

    status, page = await get(http, server, mine, "/v1/reports")
    assert status == 200
    assert [r["id"] for r in page["items"]] == [my_report]
    assert page["next"] is None


async def test_list_filters_and_walks_the_cursor(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    h = host()
    items = [url_item(f"r{i:02}", f"https://{h}/{i % 3}") for i in range(7)]
    items.append(
        {
            "client_ref": "phone",
            "target": {"type": "phone", "number": "+447700900111"},
            "scam_type": "romance",
            "explanation": "x",
        }
    )
    _, _, answer = await post(http, server, token, batch(items))
    assert answer["counts"]["accepted"] == 8

    seen: list[str] = []
    path: str | None = "/v1/reports?limit=3"
    while path:
        status, page = await get(http, server, token, path)
        assert status == 200
        assert len(page["items"]) <= 3
        seen += [r["client_ref"] for r in page["items"]]
        path = page["next"]
    assert sorted(seen) == sorted(i["client_ref"] for i in items)
    assert len(seen) == len(set(seen))

    checks = {
        "target_type=phone": {"phone"},
        "scam_type=romance": {"phone"},
        "outcome=new_ticket": {"r00", "r01", "r02", "phone"},
        "outcome=linked_to_open_ticket": {"r03", "r04", "r05", "r06"},
        "client_ref=r04": {"r04"},
        "status=open": set(seen),
        "status=actioned": set(),
        "created_before=2000-01-01T00:00:00Z": set(),
        "created_after=2000-01-01T00:00:00Z": set(seen),
    }
    for query, expected in checks.items():
        status, page = await get(http, server, token, f"/v1/reports?{query}")
        assert status == 200, (query, page)
        assert {r["client_ref"] for r in page["items"]} == expected, query

    for bad in ("limit=0", "limit=5000", "after=%%%", "after=Zm9v", "nope=1", "scam_type=spam"):
        status, problem = await get(http, server, token, f"/v1/reports?{bad}")
        assert status == 400, bad
        assert problem["errors"], bad
