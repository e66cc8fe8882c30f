"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from aiohttp import web

from fraudchannel import migrations
from fraudchannel.api_models import Health, Ready
from fraudchannel.http.apidoc import ApiDoc, Reply, problem
from fraudchannel.http.render import json_response, problem_response
from fraudchannel.http.routes import ScopedRoutes
from fraudchannel.keys import DB

routes = ScopedRoutes(tag="service")


@routes.get(
    "/healthz",
    public=True,
    doc=ApiDoc("Liveness probe", (Reply(200, "The process runs.", Health),)),
)
async def healthz(_request: web.Request) -> web.Response:
    """Answer 200 while the process runs (liveness)."""
    return json_response({"status": "ok"})


@routes.get(
    "/readyz",
    public=True,
    doc=ApiDoc(
        "Readiness probe",
        (
            Reply(200, "The database answers and every migration is applied.", Ready),
            problem(
                503,
                "Not ready: the database does not answer within 2 s, or migrations are pending.",
            ),
        ),
    ),
)
async def readyz(request: web.Request) -> web.Response:
    """Answer 200 when the database answers and every migration is applied, else 503."""
    try:
        async with asyncio.timeout(2):
            async with request.app[DB].acquire() as conn:
                current = await migrations.is_current(conn)
    except (OSError, TimeoutError, Exception) as exc:  # any failure means "not ready"
        return _not_ready(request, f"database unreachable: {type(exc).__name__}")
    if not current:
        return _not_ready(request, "database migrations are not current")
    return json_response({"status": "ready", "database": "ok", "migrations": "current"})


def _not_ready(request: web.Request, detail: str) -> web.Response:
    return problem_response(
        {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": detail,
            "instance": request.path,
        },
        status=503,
    )
