"""OAuth routes: the token endpoint, the service's JWK Set, and `/v1/whoami` for a first call."""

from __future__ import annotations

import functools
from typing import Final
from urllib.parse import parse_qsl

from aiohttp import web

from fraudchannel import tokens
from fraudchannel.api_models import JwkSet, OAuthProblem, TokenAnswer, TokenForm, WhoAmI
from fraudchannel.assertions import InvalidRequest, OAuthError
from fraudchannel.http.apidoc import CONTENT_ENCODING, DATABASE_UNAVAILABLE, ApiDoc, Reply
from fraudchannel.http.auth import KEYRING
from fraudchannel.http.bodies import UNREADABLE_BODY, unsupported_coding
from fraudchannel.http.render import json_response
from fraudchannel.http.routes import Handler, ScopedRoutes
from fraudchannel.keys import DB, PRINCIPAL, SETTINGS

routes = ScopedRoutes(tag="auth")

MAX_FORM_BYTES: Final = 16 * 1024  # an 8 KiB assertion and the other parameters, percent-encoded
MAX_FORM_FIELDS: Final = 32
FORM: Final = "application/x-www-form-urlencoded"
# RFC 6749 §5.1: token responses (and, to be safe, its errors) must not be cached.
NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_errors(handler: Handler) -> Handler:
    """Answer OAuthError as RFC 6749 §5.2 wants: application/json, never cached."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except OAuthError as exc:
            return json_response(
                exc.body(instance=request.path), status=exc.status, headers=NO_STORE | exc.headers
            )

    return wrapper


async def read_form(request: web.Request) -> list[tuple[str, str]]:
    """Return the decoded fields of a form-encoded body of at most MAX_FORM_BYTES.

    Raises InvalidRequest for another media type or content coding, a larger body (decoded), a
    body that is not the coding it claims, or one that is not application/x-www-form-urlencoded
    UTF-8 (RFC 6749 §4.4.2, Appendix B).
    """
    if request.content_type != FORM:
        raise InvalidRequest(f"the request body must be {FORM}")
    problem = unsupported_coding(request)
    if problem is not None:
        raise InvalidRequest(problem)
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise InvalidRequest(f"the request body is larger than {MAX_FORM_BYTES} bytes")
    body = bytearray()
    try:
        while chunk := await request.content.readany():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise InvalidRequest(f"the request body is larger than {MAX_FORM_BYTES} bytes")
    except web.RequestPayloadError:
        error = InvalidRequest(UNREADABLE_BODY)
        error.headers["Connection"] = "close"  # the rest of the body cannot be read either
        raise error from None
    try:
        return parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except ValueError as exc:  # UnicodeDecodeError included
        if body.count(b"&") + 1 > MAX_FORM_FIELDS:  # parse_qsl says "Max number of fields"
            raise InvalidRequest(
                f"the request has more than {MAX_FORM_FIELDS} form parameters"
            ) from exc
        raise InvalidRequest("the request body is not a valid UTF-8 form") from exc


TOKEN_DOC: Final = ApiDoc(
    "Obtain an access token",
    (
        Reply(
            200,
            "An access token (RFC 6749 §5.1); never cached.",
            TokenAnswer,
            headers=("Cache-Control", "Pragma"),
        ),
        Reply(
            400,
            "`invalid_request` (a parameter missing, repeated, malformed or too large; another "
            f"media type or content coding; a form over {MAX_FORM_BYTES} bytes; a client_secret "
            "or Authorization header besides the assertion), `unsupported_grant_type`, or "
            "`invalid_scope` (malformed, or not held by the organisation's role). RFC 6749 §5.2 "
            "members plus the RFC 9457 ones, as application/json.",
            OAuthProblem,
            headers=("Cache-Control", "Pragma"),
        ),
        Reply(
            401,
            "`invalid_client`: any fault of the client assertion (signature, claims, a jti "
            "used before), of its key, or of the organisation's standing (RFC 7523 §3.2).",
            OAuthProblem,
            headers=("WWW-Authenticate", "Cache-Control", "Pragma"),
        ),
        DATABASE_UNAVAILABLE,
    ),
    description="The OAuth 2.0 client credentials grant (RFC 6749 §4.4) with private_key_jwt "
    "client authentication (RFC 7523 §2.2): the client proves who it is with a JWT signed by a "
    "key the operator registered for its organisation. Each assertion works once.",
    body=TokenForm,
    body_media_type=FORM,
    headers=(CONTENT_ENCODING,),
)


@routes.post("/oauth/token", public=True, doc=TOKEN_DOC)
@oauth_errors
async def token(request: web.Request) -> web.Response:
    """Exchange a client assertion for an access token (RFC 6749 §4.4, RFC 7523 §2.2)."""
    token_request = tokens.parse_token_request(
        await read_form(request), authorization_header="Authorization" in request.headers
    )
    app = request.app
    answer = await tokens.exchange(app[DB], app[SETTINGS], app[KEYRING], token_request)
    return json_response(answer.as_dict(), headers=NO_STORE)


@routes.get(
    "/.well-known/jwks.json",
    public=True,
    doc=ApiDoc(
        "The keys that verify access tokens",
        (
            Reply(200, "The JWK Set (RFC 7517 §5).", JwkSet, headers=("Cache-Control",)),
            DATABASE_UNAVAILABLE,
        ),
    ),
)
async def jwks(request: web.Request) -> web.Response:
    """Publish the keys that verify access tokens (RFC 7517 §5), retired ones until unused."""
    return json_response(
        await request.app[KEYRING].jwks(), headers={"Cache-Control": "public, max-age=60"}
    )


@routes.get(
    "/v1/whoami",
    scope=tokens.AUTHENTICATED,
    doc=ApiDoc(
        "Who the access token speaks for",
        (Reply(200, "The caller's organisation and the token's scopes.", WhoAmI),),
    ),
)
async def whoami(request: web.Request) -> web.Response:
    """Return the caller: org id, slug, role and the scopes of its token (a first call to try)."""
    principal = request[PRINCIPAL]
    return json_response(
        {
            "org_id": str(principal.org_id),
            "slug": principal.slug,
            "role": principal.role,
            "scopes": sorted(principal.scopes),
        }
    )
