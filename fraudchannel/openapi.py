"""Build the OpenAPI 3.1 document of the HTTP API (`schemas/openapi.v1.json`) from the route tables.

Paths, methods and scopes come from the ScopedRoutes tables the app serves (app.ROUTE_TABLES);
each route's ApiDoc (http/apidoc.py) adds its summary, request parts and answers; every schema is
generated from the pydantic models (models.py, api_models.py) into components/schemas. The
security scheme is OAuth 2.0 client credentials whose client authentication is private_key_jwt
(RFC 7523 §2.2), which OpenAPI cannot name: the scheme's description says so, and two extension
members carry the RFC 8414 metadata names. `make schemas` writes the document
(fraudchannel.schemas), `make schemas-check` fails on drift, GET /openapi.json serves it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from fraudchannel import tokens
from fraudchannel.client import ALGORITHMS
from fraudchannel.http.apidoc import (
    DATABASE_UNAVAILABLE,
    INSUFFICIENT_SCOPE,
    MALFORMED_AUTHORIZATION,
    RESPONSE_HEADERS,
    UNAUTHORIZED,
    ApiDoc,
    Reply,
)
from fraudchannel.http.routes import PUBLIC, RouteSpec, ScopedRoutes
from fraudchannel.principal import ROLE_SCOPES, SCOPE_DESCRIPTIONS

OPENAPI_VERSION: Final = "3.1.0"
DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_REF: Final = "#/components/schemas/{model}"
SECURITY_SCHEME: Final = "oauth2"
TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - the token endpoint's path, not a secret
REQUEST_ID: Final = "X-Request-Id"
_PATH_PARAMETER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

Mode = Literal["validation", "serialization"]
Refs = dict[tuple[Any, Mode], dict[str, Any]]  # {(model, mode): its {"$ref": ...}}

INFO: Final = {
    "title": "fraudchannel",
    "version": "1",
    "summary": "The dedicated fraud-reporting channel between trusted flaggers and a platform.",
    "description": "Trusted fraud-expert organisations (banks, police fraud units, regulators, "
    "fraud bodies) authenticate with OAuth 2.0 client credentials and private_key_jwt, and post "
    "batches of reports of scam URLs and accounts in one fixed schema; the service "
    "canonicalises and deduplicates them and answers what became of each. Every error is an "
    "RFC 9457 problem document (application/problem+json) with type, title, status, detail and "
    "instance; every response carries X-Request-Id.",
    "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
}


def build(tables: Sequence[ScopedRoutes]) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the routes in `tables`, in their order.

    Raises ValueError when a route has no ApiDoc, two routes share a handler name (the
    operationId) or a method and path, or a route's path parameters differ from its ApiDoc's
    `path` model fields.
    """
    routes = [(table.tag, spec, _doc_of(spec)) for table in tables for spec in table.specs]
    refs, schemas = _schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for tag, spec, doc in routes:
        operation = _operation(spec, doc, tag, refs, schemas)
        if operation["operationId"] in operation_ids:
            raise ValueError(f"{spec.method} {spec.path}: operationId {operation['operationId']}")
        operation_ids.add(operation["operationId"])
        methods = paths.setdefault(spec.path, {})
        if spec.method.lower() in methods:
            raise ValueError(f"{spec.method} {spec.path} is routed twice")
        methods[spec.method.lower()] = operation
    for _, _, doc in routes:  # the models of path and query parameters became parameters
        for model in (doc.query, doc.path):
            if model is not None:
                schemas.pop(_ref_name(refs[model, "validation"]), None)
    tags = list(dict.fromkeys(tag for tag, _, _ in routes if tag))
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": DIALECT,
        "info": INFO,
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {SECURITY_SCHEME: security_scheme()},
            "headers": RESPONSE_HEADERS,
            "parameters": {
                REQUEST_ID: {
                    "name": REQUEST_ID,
                    "in": "header",
                    "required": False,
                    "description": "Your id of the request (1-128 of A-Za-z0-9._:-), echoed "
                    "in the response and logged with the request; another value is replaced.",
                    "schema": {"type": "string", "maxLength": 128},
                }
            },
        },
    }


def document() -> dict[str, Any]:
    """Return the document of the routes the application serves (app.ROUTE_TABLES)."""
    from fraudchannel.app import ROUTE_TABLES  # the app serves this document: import it late

    return build(ROUTE_TABLES)


def security_scheme() -> dict[str, Any]:
    """Return the OAuth 2.0 security scheme: client credentials with every scope a role holds."""
    scopes = sorted({scope for held in ROLE_SCOPES.values() for scope in held})
    return {
        "type": "oauth2",
        "description": "OAuth 2.0 client credentials (RFC 6749 §4.4) with private_key_jwt "
        "client authentication (RFC 7523 §2.2): the token request carries a client assertion, "
        "a JWT signed by a key the operator registered for the organisation (no client "
        "secret). Access tokens are ES256 JWTs (RFC 9068), sent as Bearer tokens (RFC 6750), "
        "that /.well-known/jwks.json verifies. Each role's tokens hold its scopes: "
        + "; ".join(f"{role}: {' '.join(sorted(s))}" for role, s in ROLE_SCOPES.items())
        + ".",
        "flows": {
            "clientCredentials": {
                "tokenUrl": TOKEN_PATH,
                "scopes": {scope: SCOPE_DESCRIPTIONS[scope] for scope in scopes},
            }
        },
        "x-token-endpoint-auth-methods-supported": ["private_key_jwt"],
        "x-token-endpoint-auth-signing-alg-values-supported": list(ALGORITHMS),
    }


def _doc_of(spec: RouteSpec) -> ApiDoc:
    if spec.doc is None:
        raise ValueError(f"{spec.method} {spec.path} has no ApiDoc: document it (http/apidoc.py)")
    return spec.doc


def replies_of(spec: RouteSpec) -> list[Reply]:
    """Return every answer of a route: its ApiDoc's and those its scope implies (auth, 503)."""
    replies = list(_doc_of(spec).replies)
    if spec.scope != PUBLIC:
        replies += [MALFORMED_AUTHORIZATION, UNAUTHORIZED]
        if spec.scope != tokens.AUTHENTICATED:
            replies.append(INSUFFICIENT_SCOPE)
        if DATABASE_UNAVAILABLE not in replies:  # the token check asks the registry
            replies.append(DATABASE_UNAVAILABLE)
    return replies


def _schemas(
    routes: list[tuple[str | None, RouteSpec, ApiDoc]],
) -> tuple[Refs, dict[str, Any]]:
    """Return ({(model, mode): its $ref}, components/schemas) of every model the routes use."""
    wanted: dict[tuple[type[BaseModel], Mode], None] = {}
    for _, spec, doc in routes:
        for model in (doc.body, doc.query, doc.path):
            if model is not None:
                wanted[model, "validation"] = None
        for reply in replies_of(spec):
            if reply.model is not None:
                wanted[reply.model, "serialization"] = None
    refs, defs = models_json_schema(list(wanted), ref_template=SCHEMA_REF)
    return dict(refs), dict(defs.get("$defs", {}))


def _ref_name(ref: dict[str, Any]) -> str:
    return str(ref["$ref"]).rpartition("/")[2]


def _operation(
    spec: RouteSpec,
    doc: ApiDoc,
    tag: str | None,
    refs: Refs,
    schemas: dict[str, Any],
) -> dict[str, Any]:
    """Return the Operation Object of one route."""
    description = doc.description or (spec.handler.__doc__ or "").strip()
    operation: dict[str, Any] = {
        "operationId": spec.handler.__name__,
        "summary": doc.summary,
        "description": description,
        "parameters": [
            *_path_parameters(spec, doc, refs, schemas),
            *_model_parameters(doc.query, "query", refs, schemas),
            *(
                {
                    "name": h.name,
                    "in": "header",
                    "required": h.required,
                    "description": h.description,
                    "schema": h.schema,
                }
                for h in doc.headers
            ),
            {"$ref": f"#/components/parameters/{REQUEST_ID}"},
        ],
        "responses": responses(replies_of(spec), refs),
    }
    if tag:
        operation["tags"] = [tag]
    if doc.body is not None:
        body: dict[str, Any] = {
            "required": True,
            "content": {doc.body_media_type: {"schema": refs[doc.body, "validation"]}},
        }
        if doc.body_description:
            body["description"] = doc.body_description
        operation["requestBody"] = body
    if spec.scope != PUBLIC:
        needed = [] if spec.scope == tokens.AUTHENTICATED else [spec.scope]
        operation["security"] = [{SECURITY_SCHEME: needed}]
    return operation


def _path_parameters(
    spec: RouteSpec,
    doc: ApiDoc,
    refs: Refs,
    schemas: dict[str, Any],
) -> list[dict[str, Any]]:
    """Return the path parameters, checked against the `{name}` segments of the path."""
    names = _PATH_PARAMETER.findall(spec.path)
    fields = list(doc.path.model_fields) if doc.path is not None else []
    if sorted(names) != sorted(fields):
        raise ValueError(f"{spec.method} {spec.path}: path model fields {fields} != {names}")
    return _model_parameters(doc.path, "path", refs, schemas)


def _model_parameters(
    model: type[BaseModel] | None,
    where: str,
    refs: Refs,
    schemas: dict[str, Any],
) -> list[dict[str, Any]]:
    """Return one Parameter Object per field of `model` (an absent parameter is None)."""
    if model is None:
        return []
    schema = schemas[_ref_name(refs[model, "validation"])]
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        value = {k: v for k, v in prop.items() if k not in ("title", "description", "default")}
        alternatives = [s for s in value.get("anyOf", ()) if s.get("type") != "null"]
        if "anyOf" in value and len(alternatives) == 1:  # absent, not null: no null in a URL
            del value["anyOf"]
            value.update({k: v for k, v in alternatives[0].items() if k != "description"})
        if prop.get("default") is not None:
            value["default"] = prop["default"]
        description = prop.get("description")
        parameter: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": value,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def responses(replies: Sequence[Reply], refs: Refs) -> dict[str, Any]:
    """Return the Responses Object of `replies`: one response per status, listing its cases."""
    by_status: dict[int, list[Reply]] = {}
    for reply in replies:
        by_status.setdefault(reply.status, []).append(reply)
    out: dict[str, Any] = {}
    for status in sorted(by_status):
        cases = by_status[status]
        response: dict[str, Any] = {
            "description": cases[0].description
            if len(cases) == 1
            else "\n".join(f"- {c.description}" for c in cases),
            "headers": {
                name: {"$ref": f"#/components/headers/{name}"}
                for name in dict.fromkeys([REQUEST_ID, *(h for c in cases for h in c.headers)])
            },
        }
        content: dict[str, list[dict[str, Any]]] = {}
        for case in cases:
            if case.model is not None:
                schema = refs[case.model, "serialization"]
                shown = content.setdefault(case.media_type, [])
                if schema not in shown:
                    shown.append(schema)
        if content:
            response["content"] = {
                media: {"schema": found[0] if len(found) == 1 else {"anyOf": found}}
                for media, found in content.items()
            }
        out[str(status)] = response
    return out
