"""The application factory: `create_app(settings)` wires routes, middleware and resources."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from fraudchannel import db, migrations
from fraudchannel.http import auth, health, oauth, openapi, reports
from fraudchannel.http.middleware import problem_responses, request_context
from fraudchannel.http.routes import ScopedRoutes
from fraudchannel.keys import DB, SETTINGS
from fraudchannel.settings import Settings

log = structlog.get_logger(__name__)

ROUTE_TABLES: list[ScopedRoutes] = [health.routes, oauth.routes, reports.routes, openapi.routes]


async def open_db(app: web.Application) -> AsyncIterator[None]:
    """Open the pool (and apply pending migrations) for the app's lifetime."""
    settings = app[SETTINGS]
    if settings.database_url is None:
        raise RuntimeError("create_app needs settings.database_url (start embedded PG first)")
    pool = await db.create_pool(
        str(settings.database_url),
        min_size=settings.db_pool_min,
        max_size=max(settings.db_pool_min, settings.db_pool_max),
        statement_timeout_ms=settings.statement_timeout_ms,
    )
    if settings.migrate_on_start:
        async with pool.acquire() as conn:
            await migrations.migrate(conn)
    app[DB] = pool
    log.info("database_ready", migrations="current" if settings.migrate_on_start else "unchecked")
    try:
        yield
    finally:
        await pool.close()


def create_app(settings: Settings) -> web.Application:
    """Return the aiohttp application for `settings` (which must carry a database URL)."""
    app = web.Application(
        middlewares=[request_context, problem_responses, auth.authenticate],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[openapi.OPENAPI_DOCUMENT] = openapi.load_document()
    app.cleanup_ctx.extend([open_db, auth.open_keyring])  # the keyring needs the pool
    for table in ROUTE_TABLES:
        table.add_to(app)
    return app
