"""Route tables whose every route declares the scope it needs (fail closed).

A route is either `public=True` (health, token endpoint, JWKS, the OpenAPI document) or names a
`scope`; one that does neither cannot be defined, and a `/v1` route must name a scope. Each route
also carries its ApiDoc (http/apidoc.py), from which fraudchannel.openapi documents it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from fraudchannel.http.apidoc import ApiDoc

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SCOPE_ATTR = "__fraudchannel_scope__"
PUBLIC = ""  # the scope marker of a public route


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One route: method, path, handler, the scope it needs ("" when public) and its ApiDoc."""

    method: str
    path: str
    handler: Handler
    scope: str
    doc: ApiDoc | None = None


class ScopedRoutes:
    """Collect routes like `web.RouteTableDef`, but each must say who may call it.

    `tag` groups the table's routes in the OpenAPI document.
    """

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag
        self.specs: list[RouteSpec] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        scope: str | None = None,
        public: bool = False,
        doc: ApiDoc | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated handler; raise TypeError unless exactly one of scope/public.

        `doc` describes the route in the OpenAPI document, which refuses a route without one.
        """
        if public == bool(scope):
            raise TypeError(f"{method} {path}: give either scope=... or public=True")
        if path.startswith("/v1") and public:
            raise TypeError(f"{method} {path}: /v1 routes must declare a scope")

        def register(handler: Handler) -> Handler:
            setattr(handler, SCOPE_ATTR, scope or PUBLIC)
            self.specs.append(RouteSpec(method, path, handler, scope or PUBLIC, doc))
            return handler

        return register

    def get(
        self,
        path: str,
        *,
        scope: str | None = None,
        public: bool = False,
        doc: ApiDoc | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a GET route (see `route`)."""
        return self.route("GET", path, scope=scope, public=public, doc=doc)

    def post(
        self,
        path: str,
        *,
        scope: str | None = None,
        public: bool = False,
        doc: ApiDoc | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a POST route (see `route`)."""
        return self.route("POST", path, scope=scope, public=public, doc=doc)

    def add_to(self, app: web.Application) -> None:
        """Add every route to `app`."""
        for spec in self.specs:
            if spec.method == "GET":  # and HEAD, as RFC 9110 §9.3.2 asks of a GET resource
                app.router.add_get(spec.path, spec.handler)
            else:
                app.router.add_route(spec.method, spec.path, spec.handler)


def required_scope(request: web.Request) -> str | None:
    """Return the matched route's scope: "" when public, None when no route matched."""
    handler = request.match_info.handler
    scope = getattr(handler, SCOPE_ATTR, None)
    return scope if isinstance(scope, str) else None
