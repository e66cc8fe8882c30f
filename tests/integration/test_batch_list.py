"""GET /v1/report-batches over real HTTP with real access tokens: a reporter lists its own batches,
oldest first, page by page; every answer is checked against the OpenAPI document."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from fraudchannel.reports import encode_batch_cursor, encode_cursor
from tests.auth_fixtures import GetToken, MakeOrg
from tests.builders import batch, host, mixed_items, url_item
from tests.conftest import Served
from tests.integration.test_openapi import Checked
from tests.integration.test_reports_api import BATCHES, post, reporter


@pytest.fixture
def checked(server: Served, http: aiohttp.ClientSession) -> Checked:
    return Checked(http, server)


async def listed(checked: Checked, token: str, path: str = BATCHES) -> tuple[int, Any]:
    """GET `path` of the list route; assert its answer is the documented one."""
    return await checked.call("GET", BATCHES, path, token=token)


async def post_batches(
    checked: Checked, token: str, count: int, prefix: str = "b"
) -> list[dict[str, Any]]:
    """Post `count` one-item batches, one after the other; return their 202 answers."""
    answers = []
    for n in range(count):
        item = url_item(f"{prefix}{n}", f"https://{host()}/")
        status, _, answer = await post(checked.http, checked.server, token, batch([item]))
        assert status == 202
        answers.append(answer)
    return answers


async def walk(checked: Checked, token: str, path: str) -> tuple[list[str], int]:
    """Follow `next` from `path` to the last page; return the batch ids seen and the pages."""
    seen: list[str] = []
    pages = 0
    next_path: str | None = path
    while next_path:
        status, page = await listed(checked, token, next_path)
        assert status == 200, page
        seen += [b["id"] for b in page["items"]]
        pages += 1
        next_path = page["next"]
        assert pages <= 10, "the cursor does not advance"
    return seen, pages


async def test_lists_only_the_callers_batches_oldest_first_with_counts(
    checked: Checked, make_org: MakeOrg, get_token: GetToken
) -> None:
    mine, theirs = await reporter(make_org, get_token), await reporter(make_org, get_token)
    items = mixed_items()
    _, _, first = await post(checked.http, checked.server, mine, batch(items))
    await post_batches(checked, theirs, 2, prefix="t")
    second = (await post_batches(checked, mine, 1))[0]
    await post_batches(checked, theirs, 1, prefix="u")

    status, page = await listed(checked, mine)
    assert status == 200
    assert page["next"] is None
    assert [b["id"] for b in page["items"]] == [first["batch_id"], second["batch_id"]]
    summary = page["items"][0]
    assert summary == {
        "id": first["batch_id"],
        "received_at": first["received_at"],
        "submitter": {"name": "Ann Analyst", "email": "ann@bank.example"},
        "item_count": 4,
        "counts": {
            "accepted": 3,
            "rejected": 1,
            "new_ticket": 1,
            "linked_to_open_ticket": 1,
            "recurrence_after_action": 0,
            "duplicate_of_own_report": 1,
        },
        "receipt": f"{BATCHES}/{first['batch_id']}",
    }
    assert summary["counts"] == first["counts"]
    status, receipt = await checked.call(
        "GET", "/v1/report-batches/{batch_id}", summary["receipt"], token=mine
    )
    assert (status, receipt) == (200, first)

    status, page = await listed(checked, theirs)
    assert status == 200
    assert len(page["items"]) == 3
    assert not {first["batch_id"], second["batch_id"]} & {b["id"] for b in page["items"]}


async def test_pages_of_two_walk_five_batches_without_gaps_or_repeats(
    checked: Checked, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    answers = await post_batches(checked, token, 5)
    seen, pages = await walk(checked, token, f"{BATCHES}?limit=2")
    assert seen == [a["batch_id"] for a in answers]
    assert pages == 3

    status, page = await listed(checked, token, f"{BATCHES}?limit=5")
    assert (status, page["next"]) == (200, None)  # exactly one page: no empty page after it


async def test_received_after_and_before_filter_and_stay_in_next(
    checked: Checked, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    answers = await post_batches(checked, token, 5)
    ids = [a["batch_id"] for a in answers]
    middle = answers[2]["received_at"]
    assert len({a["received_at"] for a in answers}) == 5

    after = urlencode({"received_after": middle, "limit": 1})
    seen, _ = await walk(checked, token, f"{BATCHES}?{after}")
    assert seen == ids[2:]  # at or after
    before = urlencode({"received_before": middle, "limit": 1})
    seen, _ = await walk(checked, token, f"{BATCHES}?{before}")
    assert seen == ids[:2]  # strictly before
    both = urlencode(
        {"received_after": answers[1]["received_at"], "received_before": answers[4]["received_at"]}
    )
    status, page = await listed(checked, token, f"{BATCHES}?{both}")
    assert (status, [b["id"] for b in page["items"]]) == (200, ids[1:4])
    status, page = await listed(checked, token, f"{BATCHES}?received_before=2000-01-01T00:00:00Z")
    assert (status, page) == (200, {"items": [], "next": None})


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_bad_parameters_are_400_problems_naming_the_parameter(
    checked: Checked, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    await post_batches(checked, token, 2)
    _, page = await listed(checked, token, f"{BATCHES}?limit=1")
    cursor = page["next"].rpartition("after=")[2]
    at, _, batch_id = (
        base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
    )
    forged = {
        "garbled": cursor[:-3] + "%%%",
        "not-base64-text": "Zm9v",  # "foo"
        "padding-inside": cursor[:4] + "=" + cursor[4:],
        "padded": cursor + "=" * (-len(cursor) % 4 or 4),
        "reports-cursor": encode_cursor(datetime.now(UTC), 5),
        "upper-case-id": _b64(f"{at}|{batch_id.upper()}"),
        "id-without-hyphens": _b64(f"{at}|{uuid.UUID(batch_id).hex}"),
        "not-utc": _b64(f"0001-01-01T00:00:00+14:00|{batch_id}"),
        "naive-time": _b64(f"2024-01-01T00:00:00|{batch_id}"),
        "no-id": _b64(at),
        "huge": "A" * 201,
    }
    for name, bad in forged.items():
        status, problem = await listed(checked, token, f"{BATCHES}?{urlencode({'after': bad})}")
        assert status == 400, name
        assert [e["parameter"] for e in problem["errors"]] == ["after"], name

    for query, parameter in [
        ("colour=red", "colour"),
        ("limit=2&limit=3", "limit"),
        ("after=x&after=x", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=1_0", "limit"),
        ("limit=%205", "limit"),
        ("limit=", "limit"),
        ("received_after=yesterday", "received_after"),
        ("received_before=2024-01-01T00:00:00", "received_before"),  # no offset
        ("created_after=2024-01-01T00:00:00Z", "created_after"),  # a filter of /v1/reports
    ]:
        status, problem = await listed(checked, token, f"{BATCHES}?{query}")
        assert status == 400, query
        assert problem["type"].endswith("/bad-request"), query
        assert [e["parameter"] for e in problem["errors"]] == [parameter], query


async def test_a_well_formed_cursor_at_the_edge_of_time_is_an_empty_page(
    checked: Checked, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    await post_batches(checked, token, 1)
    last = encode_batch_cursor(datetime.max.replace(tzinfo=UTC), uuid.UUID(int=2**128 - 1))
    status, page = await listed(checked, token, f"{BATCHES}?after={last}")
    assert (status, page) == (200, {"items": [], "next": None})
    first = encode_batch_cursor(datetime.min.replace(tzinfo=UTC), uuid.UUID(int=0))
    status, page = await listed(checked, token, f"{BATCHES}?after={first}")
    assert (status, len(page["items"])) == (200, 1)


async def test_a_token_without_reports_read_is_403(
    checked: Checked, make_org: MakeOrg, get_token: GetToken
) -> None:
    creds = await make_org(role="reporter")
    write_only = await get_token(creds, scope="reports:write")
    status, problem = await listed(checked, write_only)
    assert (status, problem["required_scope"]) == (403, "reports:read")
    status, _ = await checked.call("GET", BATCHES)
    assert status == 401
