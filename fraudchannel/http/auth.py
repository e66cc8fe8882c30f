"""Bearer-token authentication (RFC 6750) of every scoped route; public routes pass untouched.

The middleware fails closed: a matched route that declares no scope at all (added around
ScopedRoutes) is refused, and a `/v1` route always declares one (routes.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Final

import structlog
from aiohttp import web

from fraudchannel import service_keys, tokens
from fraudchannel.errors import Forbidden, FraudChannelError, Unauthorized
from fraudchannel.http.routes import PUBLIC, Handler, required_scope
from fraudchannel.keys import DB, PRINCIPAL, SETTINGS
from fraudchannel.service_keys import Keyring

log = structlog.get_logger(__name__)

KEYRING = web.AppKey("keyring", Keyring)
# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive.
_BEARER: Final = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)$")
_SCHEME: Final = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr](?: |$)")


class InvalidBearerRequest(Unauthorized):
    """The Authorization header is malformed (RFC 6750 §3.1 invalid_request): answered with 400."""

    status, slug, title = 400, "invalid-request", "Invalid request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="invalid_request")


class RouteWithoutScope(FraudChannelError):
    """This route declares no scope, so nobody may call it (a bug: register it via ScopedRoutes)."""


def bearer_token(values: list[str]) -> str:
    """Return the access token in the request's Authorization header values (RFC 6750 §2.1).

    Raises Unauthorized without an error code (RFC 6750 §3.1) when there is no header or it uses
    another scheme, InvalidBearerRequest when there are several headers or the Bearer credentials
    are empty, hold several tokens or characters outside b64token (non-ASCII included).
    """
    if not values:
        raise Unauthorized("send an access token: Authorization: Bearer <token>", error="missing")
    if len(values) > 1:
        raise InvalidBearerRequest("send one Authorization header")
    value = values[0]
    if not _SCHEME.match(value):
        raise Unauthorized("use the Bearer scheme: Authorization: Bearer <token>", error="missing")
    match = _BEARER.match(value)
    if match is None:
        raise InvalidBearerRequest("the Authorization header must be Bearer and one token")
    return match[1]


async def open_keyring(app: web.Application) -> AsyncIterator[None]:
    """Make sure a service key exists (created on first start) and load the keyring."""
    settings = app[SETTINGS]
    pool = app[DB]
    kid = await service_keys.ensure_service_key(pool)
    keyring = Keyring(pool, service_keys.publication_window(settings))
    await keyring.reload()
    app[KEYRING] = keyring
    log.info("keyring_loaded", kid=kid)
    yield


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Set request[PRINCIPAL] from the Bearer token, or refuse with 400/401/403 (RFC 6750 §3.1).

    aiohttp's own 404/405 and public routes pass; a route with no scope is refused (500, logged).
    The scope "authenticated" (tokens.AUTHENTICATED) is met by every valid token. The org id is
    bound to every log line of the request.
    """
    if request.match_info.http_exception is not None:
        return await handler(request)
    scope = required_scope(request)
    if scope == PUBLIC:
        return await handler(request)
    if scope is None:
        raise RouteWithoutScope(path=request.path)
    token = bearer_token(request.headers.getall("Authorization", []))
    app = request.app
    principal = await tokens.authenticate(app[DB], app[SETTINGS], app[KEYRING], token)
    with structlog.contextvars.bound_contextvars(org_id=str(principal.org_id)):
        if scope != tokens.AUTHENTICATED and not principal.has(scope):
            raise Forbidden(f"this route needs the scope {scope}", scope=scope)
        request[PRINCIPAL] = principal
        return await handler(request)
