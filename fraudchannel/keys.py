"""Typed keys for what the application and each request carry (no string keys)."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from fraudchannel.principal import Principal
from fraudchannel.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", asyncpg.Pool)
PRINCIPAL = web.RequestKey("principal", Principal)  # written by the auth middleware only
