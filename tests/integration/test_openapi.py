"""GET /openapi.json serves the committed document, and the server's real answers, over a real
socket, are the ones the document describes: status, media type and body schema."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from openapi_schema_validator import OAS31Validator, oas31_format_checker

from fraudchannel import client, schemas
from tests.auth_fixtures import GetToken, MakeOrg, bearer
from tests.builders import batch, host, mixed_items, url_item
from tests.conftest import Served, ServeFactory

OPENAPI_FILE = schemas.SCHEMAS_DIR / schemas.OPENAPI_FILE


@dataclass
class Checked:
    """Requests whose answers are checked against the OpenAPI document as they arrive."""

    http: aiohttp.ClientSession
    server: Served
    doc: dict[str, Any] = field(
        default_factory=lambda: json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    )
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    async def call(
        self,
        method: str,
        template: str,
        path: str | None = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> tuple[int, Any]:
        """Send the request; assert its answer is documented for `template`; return it."""
        send = {**(bearer(token) if token else {}), **(headers or {})}
        url = self.server.url + (path or template)
        async with self.http.request(method, url, headers=send, **kw) as resp:
            status, media, text = resp.status, resp.content_type, await resp.text()
            response_headers = resp.headers
        responses = self.doc["paths"][template][method.lower()]["responses"]
        where = f"{method} {template} -> {status}"
        assert str(status) in responses, f"{where} is not documented: {text[:300]}"
        response = responses[str(status)]
        assert media in response.get("content", {}), f"{where}: {media} is not documented"
        body = json.loads(text)
        schema = {**response["content"][media]["schema"], "components": self.doc["components"]}
        # JSON Schema 2020-12 (the document's jsonSchemaDialect) plus OpenAPI's annotations.
        validator = OAS31Validator(schema, format_checker=oas31_format_checker)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert errors == [], f"{where}: {errors}"
        undocumented = {"WWW-Authenticate", "Retry-After", "Cache-Control", "Accept-Encoding"}
        undocumented &= set(response_headers) - set(response.get("headers", {}))
        assert undocumented == set(), f"{where}: undocumented headers"
        assert "X-Request-Id" in response_headers
        self.seen.add((method, template, status))
        return status, body


@pytest.fixture
def checked(server: Served, http: aiohttp.ClientSession) -> Checked:
    return Checked(http, server)


async def test_openapi_json_is_the_committed_document_and_public(
    server: Served, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/openapi.json") as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        assert await resp.read() == OPENAPI_FILE.read_bytes()
        assert resp.headers["X-Request-Id"]
        doc = await resp.json()
    assert doc["openapi"] == "3.1.0"
    assert "/openapi.json" in doc["paths"]


async def test_public_answers_match_the_document(checked: Checked, make_org: MakeOrg) -> None:
    assert (await checked.call("GET", "/healthz"))[0] == 200
    assert (await checked.call("GET", "/readyz"))[0] == 200
    assert (await checked.call("GET", "/.well-known/jwks.json"))[0] == 200
    assert (await checked.call("GET", "/openapi.json"))[0] == 200
    creds = await make_org(role="reporter")
    form = client.token_form(creds.assertion(checked.server.token_endpoint), scope="reports:read")
    status, answer = await checked.call("POST", "/oauth/token", data=form)
    assert (status, answer["scope"]) == (200, "reports:read")
    status, answer = await checked.call("POST", "/oauth/token", data={"grant_type": "password"})
    assert (status, answer["error"]) == (400, "unsupported_grant_type")
    bad = client.token_form("not-a-jwt")
    status, answer = await checked.call("POST", "/oauth/token", data=bad)
    assert (status, answer["error"]) == (401, "invalid_client")


async def test_reporter_answers_match_the_document(
    checked: Checked, make_org: MakeOrg, get_token: GetToken
) -> None:
    creds = await make_org(role="reporter")
    token = await get_token(creds)
    status, me = await checked.call("GET", "/v1/whoami", token=token)
    assert (status, me["slug"]) == (200, creds.slug)
    assert (await checked.call("GET", "/v1/whoami"))[0] == 401
    malformed = {"Authorization": "Bearer a b"}
    assert (await checked.call("GET", "/v1/whoami", headers=malformed))[0] == 400

    items = mixed_items()
    status, answer = await checked.call(
        "POST", "/v1/report-batches", token=token, json=batch(items)
    )
    assert status == 202
    assert [i.get("outcome") for i in answer["items"]] == [
        "new_ticket",
        None,
        "duplicate_of_own_report",
        "linked_to_open_ticket",
    ]
    changed = [items[0] | {"explanation": "Another explanation."}]
    status, again = await checked.call(
        "POST",
        "/v1/report-batches",
        token=token,
        json=batch(changed),
        headers={"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
    )
    assert (status, again["items"][0]["content_differs"]) == (202, True)

    batch_path = f"/v1/report-batches/{answer['batch_id']}"
    assert (await checked.call("GET", "/v1/report-batches/{batch_id}", batch_path, token=token))[
        0
    ] == 200
    report_path = f"/v1/reports/{answer['items'][0]['report_id']}"
    status, report = await checked.call("GET", "/v1/reports/{report_id}", report_path, token=token)
    assert (status, report["report"]["client_ref"]) == (200, "a")
    status, page = await checked.call("GET", "/v1/reports", "/v1/reports?limit=1", token=token)
    assert status == 200
    assert page["next"]
    status, _ = await checked.call("GET", "/v1/reports", page["next"], token=token)
    assert status == 200

    unknown = str(uuid.uuid4())
    for template, path in [
        ("/v1/report-batches/{batch_id}", f"/v1/report-batches/{unknown}"),
        ("/v1/reports/{report_id}", f"/v1/reports/{unknown}"),
    ]:
        assert (await checked.call("GET", template, path, token=token))[0] == 404
    status, problem = await checked.call(
        "GET", "/v1/reports", "/v1/reports?colour=red", token=token
    )
    assert (status, problem["errors"][0]["parameter"]) == (400, "colour")


async def test_refused_batches_match_the_document(
    checked: Checked, make_org: MakeOrg, get_token: GetToken
) -> None:
    creds = await make_org(role="reporter")
    token = await get_token(creds)
    post = "/v1/report-batches"
    text = {"Content-Type": "text/plain"}
    assert (await checked.call("POST", post, token=token, data=b"{}", headers=text))[0] == 415
    as_json = {"Content-Type": "application/json"}
    assert (await checked.call("POST", post, token=token, data=b"{", headers=as_json))[0] == 400
    status, problem = await checked.call("POST", post, token=token, json=batch([], good_faith=0))
    assert status == 422
    assert problem["errors"]
    read_only = await get_token(creds, scope="reports:read")
    status, problem = await checked.call("POST", post, token=read_only, json=batch([]))
    assert (status, problem["required_scope"]) == (403, "reports:write")


async def test_an_oversize_batch_matches_the_document(
    serve: ServeFactory, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    small = await serve(max_body_bytes=4096)
    checked = Checked(http, small)
    token = await get_token(await make_org(role="reporter"), server=small)
    items = [url_item(str(i), f"https://{host()}/") for i in range(100)]
    status, _ = await checked.call("POST", "/v1/report-batches", token=token, json=batch(items))
    assert status == 413
