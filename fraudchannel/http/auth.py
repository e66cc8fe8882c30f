"""Bearer-token authentication middleware (RFC 6750): placeholder that fails closed."""

from __future__ import annotations

from aiohttp import web

from fraudchannel.errors import Unauthorized
from fraudchannel.http.routes import Handler, required_scope


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let public routes through; refuse every scoped route (no tokens yet)."""
    if request.match_info.http_exception is not None:
        return await handler(request)
    if required_scope(request) == "":
        return await handler(request)
    raise Unauthorized("access tokens are not implemented yet", error="missing")
