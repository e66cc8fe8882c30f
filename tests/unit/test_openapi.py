"""The OpenAPI document in schemas/: generated from the route tables and models, valid OpenAPI 3.1,
and complete: every route the app serves is in it, with the scope it needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from aiohttp import web
from openapi_spec_validator import OpenAPIV31SpecValidator

from fraudchannel import api_models, client, models, openapi, schemas, tokens
from fraudchannel.app import ROUTE_TABLES, create_app
from fraudchannel.http import openapi as openapi_http
from fraudchannel.http.apidoc import ApiDoc, Reply
from fraudchannel.http.routes import PUBLIC, ScopedRoutes
from fraudchannel.principal import ROLE_SCOPES, SCOPE_DESCRIPTIONS
from fraudchannel.report_query import ReportQuery
from fraudchannel.settings import Settings

OPENAPI_FILE = schemas.SCHEMAS_DIR / schemas.OPENAPI_FILE
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    committed: dict[str, Any] = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    return committed


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


async def _handler(_request: web.Request) -> web.Response:
    return web.Response()


def test_the_committed_document_is_what_the_code_generates() -> None:
    assert OPENAPI_FILE.read_text(encoding="utf-8") == schemas.render(openapi.document)
    assert schemas.OPENAPI_FILE not in schemas.drift()


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    assert doc["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    errors = [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == []


def test_the_validator_would_notice_a_broken_document(doc: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(doc))
    broken["paths"]["/healthz"]["get"]["responses"]["200"]["content"] = {"x": {"schema": 1}}
    assert any(True for _ in OpenAPIV31SpecValidator(broken).iter_errors())


def test_every_route_the_app_serves_is_documented(doc: dict[str, Any]) -> None:
    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"  # HEAD: the GET without body
    }
    assert ("GET", "/openapi.json") in served
    assert served == set(operations(doc))


def test_each_operation_requires_the_scope_of_its_route(doc: dict[str, Any]) -> None:
    ops = operations(doc)
    for table in ROUTE_TABLES:
        for spec in table.specs:
            op = ops[spec.method, spec.path]
            if spec.scope == PUBLIC:
                assert "security" not in op, spec.path
            elif spec.scope == tokens.AUTHENTICATED:
                assert op["security"] == [{"oauth2": []}]
            else:
                assert op["security"] == [{"oauth2": [spec.scope]}]
                assert "403" in op["responses"]
            if spec.scope != PUBLIC:
                assert {"400", "401", "503"} <= set(op["responses"]), spec.path


def test_the_security_scheme_is_client_credentials_with_private_key_jwt(
    doc: dict[str, Any],
) -> None:
    scheme = doc["components"]["securitySchemes"]["oauth2"]
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token"
    assert "post" in doc["paths"][flow["tokenUrl"]]
    assert set(flow["scopes"]) == {s for held in ROLE_SCOPES.values() for s in held}
    assert scheme["x-token-endpoint-auth-methods-supported"] == ["private_key_jwt"]
    assert "RFC 7523" in scheme["description"]
    assert set(SCOPE_DESCRIPTIONS) == set(flow["scopes"])


def test_errors_are_problem_documents_except_the_oauth_ones(doc: dict[str, Any]) -> None:
    for (method, path), op in operations(doc).items():
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            expected = (
                "application/json"
                if path == "/oauth/token" and status in ("400", "401")  # RFC 6749 §5.2
                else "application/problem+json"
            )
            assert list(response["content"]) == [expected], (method, path, status)


def test_no_route_documents_a_status_it_cannot_answer(doc: dict[str, Any]) -> None:
    statuses = {s for op in operations(doc).values() for s in op["responses"]}
    assert "429" not in statuses  # nothing rate-limits (yet): no route answers 429
    batches = operations(doc)["POST", "/v1/report-batches"]["responses"]
    assert set(batches) == {"202", "400", "401", "403", "413", "415", "422", "503"}
    assert "Retry-After" in batches["503"]["headers"]
    assert "Accept-Encoding" in batches["415"]["headers"]


def test_the_report_batch_body_and_answer_are_the_models(doc: dict[str, Any]) -> None:
    op = operations(doc)["POST", "/v1/report-batches"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ReportBatch"}
    batch_schema = models.report_batch_schema()
    assert doc["components"]["schemas"]["ReportBatch"]["required"] == batch_schema["required"]
    answer = op["responses"]["202"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/BatchAnswer"}
    assert [p["name"] for p in op["parameters"][:1]] == ["Idempotency-Key"]


def test_query_parameters_are_those_of_report_query(doc: dict[str, Any]) -> None:
    op = operations(doc)["GET", "/v1/reports"]
    names = [p["name"] for p in op["parameters"] if p.get("in") == "query"]
    assert names == list(ReportQuery.model_fields)
    limit = next(p for p in op["parameters"] if p.get("name") == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
    assert all("null" not in json.dumps(p["schema"]) for p in op["parameters"] if "schema" in p)


def test_a_route_without_api_doc_cannot_be_documented() -> None:
    table = ScopedRoutes()
    table.get("/v1/things", scope="reports:read")(_handler)
    with pytest.raises(ValueError, match="no ApiDoc"):
        openapi.build([table])


def test_path_parameters_must_match_the_path_model() -> None:
    table = ScopedRoutes()
    doc = ApiDoc("A thing", (Reply(200, "The thing."),))
    table.get("/v1/things/{thing_id}", scope="reports:read", doc=doc)(_handler)
    with pytest.raises(ValueError, match="path model"):
        openapi.build([table])


def test_the_answer_models_agree_with_the_code() -> None:
    assert set(get_args(api_models.Role)) == set(ROLE_SCOPES)
    form = api_models.TokenForm.model_fields
    assert get_args(form["grant_type"].annotation) == (client.GRANT_TYPE,)
    assert get_args(form["client_assertion_type"].annotation) == (client.ASSERTION_TYPE,)


def test_the_server_falls_back_to_generating_a_missing_document(tmp_path: Path) -> None:
    committed = OPENAPI_FILE.read_bytes()
    assert openapi_http.load_document() == committed
    assert openapi_http.load_document(tmp_path) == committed
