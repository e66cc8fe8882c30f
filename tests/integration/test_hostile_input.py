"""Hostile input against a real server: every refusal is a precise problem, never a 500, and
nothing already accepted is dropped or changed. Each test names the bug it pins down."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import aiohttp
import jwt
import pytest

from fraudchannel import client
from tests.auth_fixtures import (
    GetToken,
    MakeOrg,
    OrgCredentials,
    assertion_claims,
    post_token,
    sign_assertion,
)
from tests.builders import batch
from tests.conftest import Served
from tests.integration.http_harness import (
    PROBLEM,
    get,
    item,
    post,
    post_raw,
    reporter,
    stored_refs,
)

# ---- booleans, numbers and dates read as what they are -----------------------------------------


@pytest.mark.parametrize("value", [1, 1.0], ids=["int", "float"])
async def test_good_faith_must_be_the_boolean_true(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken, value: Any
) -> None:
    # Bug: pydantic's Literal[True] matched 1 (1 == True), so good_faith=1 was accepted (202).
    token = await reporter(make_org, get_token)
    status, ctype, doc = await post(http, server, token, batch([item("gf")], good_faith=value))
    assert (status, ctype) == (422, PROBLEM), doc
    assert [e["pointer"] for e in doc["errors"]] == ["/good_faith"]
    assert await stored_refs(http, server, token) == []


@pytest.mark.parametrize(
    "observed_at",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"],
    ids=["before-year-1-in-utc", "after-9999-in-utc"],
)
async def test_observed_at_beyond_utc_range_is_an_item_error_not_a_500(
    server: Served,
    http: aiohttp.ClientSession,
    make_org: MakeOrg,
    get_token: GetToken,
    observed_at: str,
) -> None:
    # Bug: a valid-looking offset time whose UTC instant falls outside year 1..9999 passed
    # validation and crashed the database step: 500, and the good item beside it was lost.
    token = await reporter(make_org, get_token)
    doc_in = batch([item("good"), item("bad", observed_at=observed_at)])
    status, _, doc = await post(http, server, token, doc_in)
    assert status == 202, doc
    assert doc["counts"]["accepted"] == 1
    assert doc["items"][1]["errors"][0]["pointer"] == "/reports/1/observed_at"
    assert await stored_refs(http, server, token) == ["good"]


@pytest.mark.parametrize("observed_at", [0, 1700000000, "1700000000", 1.7e9])
async def test_observed_at_is_never_guessed_from_a_number(
    server: Served,
    http: aiohttp.ClientSession,
    make_org: MakeOrg,
    get_token: GetToken,
    observed_at: Any,
) -> None:
    # Bug: numbers (and numeric strings) were read as Unix seconds; the schema promises RFC 3339
    # with an offset, and seconds vs milliseconds is a guess.
    token = await reporter(make_org, get_token)
    status, _, doc = await post(http, server, token, batch([item("n", observed_at=observed_at)]))
    assert status == 202, doc
    assert doc["items"][0]["errors"][0]["pointer"] == "/reports/0/observed_at"


@pytest.mark.parametrize(
    "query",
    [
        "created_after=0001-01-01T00:00:00%2B14:00",
        "created_before=9999-12-31T23:59:59-14:00",
        "created_after=0",
        "created_after=1700000000",
        "limit=1_0",
        "limit=%205",
        "limit=%2B5",
    ],
)
async def test_report_query_refuses_out_of_range_and_guessed_values(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken, query: str
) -> None:
    # Bug: dates whose UTC instant is outside year 1..9999 crashed the query (500); numbers were
    # taken as Unix seconds; "1_0", " 5" and "+5" were read as limits.
    token = await reporter(make_org, get_token)
    status, ctype, doc = await get(http, server, token, f"/v1/reports?{query}")
    assert (status, ctype) == (400, PROBLEM), doc
    assert doc["errors"][0]["parameter"] == query.split("=")[0]


@pytest.mark.parametrize(
    "raw",
    [
        "0001-01-01T00:00:00+14:00|1",
        "9999-12-31T23:59:59-14:00|1",
        "2024-01-01T00:00:00+00:00|1_000",
        "2024-01-01T00:00:00+00:00| 1",
        "2024-01-01T00:00:00+00:00|\uff11",
    ],
)
async def test_forged_cursor_is_refused_not_a_500(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken, raw: str
) -> None:
    # Bug: a cursor of an out-of-range instant crashed the query (500); loose integers passed.
    token = await reporter(make_org, get_token)
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    status, ctype, doc = await get(http, server, token, f"/v1/reports?after={cursor}")
    assert (status, ctype) == (400, PROBLEM), doc
    assert doc["errors"][0] == {
        "parameter": "after",
        "code": "cursor_invalid",
        "detail": "not our cursor",
    }


# ---- JSON that is not one unambiguous document -------------------------------------------------

_DUPLICATES = {
    "envelope": (
        b'{"schema_version":"1","good_faith":true,"good_faith":true,'
        b'"submitter":{"name":"A","email":"a@bank.example"},"reports":[%s]}'
    ),
    "item": (
        b'{"schema_version":"1","good_faith":true,'
        b'"submitter":{"name":"A","email":"a@bank.example"},"reports":[%s]}'
    ),
}


@pytest.mark.parametrize("where", ["envelope", "item", "target"])
async def test_duplicate_json_members_are_refused_not_guessed(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken, where: str
) -> None:
    # Bug: {"client_ref":"a","client_ref":"b"} silently kept the last value (I-JSON, RFC 7493
    # §2.3: names must be unique); the report was stored under a ref the sender may not expect.
    token = await reporter(make_org, get_token)
    one = item("first")
    text = json.dumps(one)
    if where == "item":
        twice = '"client_ref": "first", "client_ref": "second"'
        text = text.replace('"client_ref": "first"', twice)
    if where == "target":
        text = text.replace('"type": "url"', '"type": "url", "type": "email"')
    envelope = _DUPLICATES["envelope" if where == "envelope" else "item"]
    status, ctype, doc = await post_raw(http, server, token, envelope % text.encode())
    assert (status, ctype) == (400, PROBLEM), doc
    assert "more than once" in doc["detail"]
    assert await stored_refs(http, server, token) == []


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_json(
    server: Served,
    http: aiohttp.ClientSession,
    make_org: MakeOrg,
    get_token: GetToken,
    constant: str,
) -> None:
    # Bug: NaN/Infinity (not JSON, RFC 8259 §6) were parsed and then blamed on the field's type.
    token = await reporter(make_org, get_token)
    text = json.dumps(batch([item("n", victim_count=0)])).replace(
        '"victim_count": 0', f'"victim_count": {constant}'
    )
    status, ctype, doc = await post_raw(http, server, token, text.encode())
    assert (status, ctype) == (400, PROBLEM), doc
    assert constant in doc["detail"]


# ---- client assertions whose strings the database cannot hold ---------------------------------


def _forge(creds: OrgCredentials, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Sign header and claims exactly as given (json.dumps keeps lone surrogates escaped)."""
    key = client.load_private_key(creds.private_key_pem)
    return jwt.api_jws.encode(json.dumps(claims).encode(), key, algorithm=creds.alg, headers=header)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("kid", "k\u0000id"),
        ("iss", "acme\u0000bank"),
        ("jti", "j\u0000ti"),
        ("kid", "k\ud800id"),
        ("iss", "acme\udfffbank"),
        ("jti", "j\ud800ti"),
    ],
    ids=["kid-nul", "iss-nul", "jti-nul", "kid-surrogate", "iss-surrogate", "jti-surrogate"],
)
async def test_assertion_strings_the_database_cannot_hold_are_invalid_client(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, where: str, value: str
) -> None:
    # Bug: NUL (and lone surrogates) in kid, iss or jti reached PostgreSQL: 500.
    creds = await make_org(role="reporter")
    claims = assertion_claims(creds, server.token_endpoint)
    header = {"kid": creds.kid, "alg": creds.alg, "typ": "JWT"}
    if where == "kid":
        header["kid"] = value
    else:
        claims[where] = value
        if where == "iss":
            claims["sub"] = value
    form = client.token_form(_forge(creds, header, claims))
    answer = await post_token(http, server, form)
    assert answer.status == 401, answer.body
    assert answer.body["error"] == "invalid_client"


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
async def test_boolean_numeric_date_is_named_as_such(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, name: str
) -> None:
    # Bug: exp=true was read as 1 (1970) and answered "has expired"; a boolean is no NumericDate.
    creds = await make_org(role="reporter")
    claims = assertion_claims(creds, server.token_endpoint, **{name: True})
    answer = await post_token(http, server, client.token_form(sign_assertion(creds, claims)))
    assert answer.status == 401, answer.body
    assert answer.body["error_description"] == (
        f"the assertion's {name} must be a number (RFC 7519 NumericDate)"
    )


# ---- what reaches the reporter -----------------------------------------------------------------


async def test_each_report_shows_its_own_scheme(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    h = f"scheme-{uuid.uuid4().hex[:12]}.co.uk"
    status, _, doc = await post(
        http, server, token, batch([item("s", f"https://{h}/a"), item("p", f"http://{h}/a")])
    )
    assert status == 202, doc
    assert doc["items"][1]["ticket_id"] == doc["items"][0]["ticket_id"]
    assert doc["items"][0]["target"]["canonical"] == f"https://{h}/a"
    assert doc["items"][1]["target"]["canonical"] == f"http://{h}/a"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://.barclays-verify.co.uk/login", "https://barclays-verify.co.uk/login"),
        ("https://evil..barclays-verify.co.uk/", "https://evil.barclays-verify.co.uk/"),
    ],
)
async def test_empty_host_labels_follow_the_safe_browsing_host_rules(
    server: Served,
    http: aiohttp.ClientSession,
    make_org: MakeOrg,
    get_token: GetToken,
    url: str,
    canonical: str,
) -> None:
    # Safe Browsing v4 "URLs and Hashing": remove leading and trailing dots, collapse runs of
    # dots. The issue names these rules, so such hosts are repaired, not refused.
    token = await reporter(make_org, get_token)
    status, _, doc = await post(http, server, token, batch([item("e", url)]))
    assert status == 202, doc
    assert doc["items"][0]["target"]["canonical"] == canonical


async def test_hostile_batch_leaves_earlier_reports_untouched(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    token = await reporter(make_org, get_token)
    status, _, first = await post(http, server, token, batch([item("keep")]))
    assert status == 202
    report_id = first["items"][0]["report_id"]
    _, _, before = await get(http, server, token, f"/v1/reports/{report_id}")
    hostile = [
        batch([item("keep", observed_at="0001-01-01T00:00:00+14:00")]),
        batch([item("keep", url="https://other.example/")], good_faith=1),
    ]
    for doc in hostile:
        status, _, _ = await post(http, server, token, doc)
        assert status in (202, 422)
    _, _, after = await get(http, server, token, f"/v1/reports/{report_id}")
    assert after == before
