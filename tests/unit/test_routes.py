"""Route tables refuse routes that do not say who may call them (fail closed)."""

from __future__ import annotations

import pytest
from aiohttp import web

from fraudchannel.app import ROUTE_TABLES
from fraudchannel.http.routes import ScopedRoutes


async def _handler(_request: web.Request) -> web.Response:
    return web.Response()


def test_a_route_without_scope_cannot_be_defined() -> None:
    with pytest.raises(TypeError, match="scope"):
        ScopedRoutes().get("/v1/things")(_handler)


def test_a_v1_route_cannot_be_public() -> None:
    with pytest.raises(TypeError, match="/v1"):
        ScopedRoutes().get("/v1/things", public=True)(_handler)


def test_scope_and_public_together_are_refused() -> None:
    with pytest.raises(TypeError):
        ScopedRoutes().get("/x", scope="reports:read", public=True)(_handler)


def test_every_registered_v1_route_declares_a_scope() -> None:
    specs = [spec for table in ROUTE_TABLES for spec in table.specs]
    assert specs
    for spec in specs:
        if spec.path.startswith("/v1"):
            assert spec.scope, f"{spec.method} {spec.path} has no scope"
