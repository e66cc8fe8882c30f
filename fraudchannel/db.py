"""Database access: the asyncpg pool and named queries loaded from `sql/queries/*.sql`."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import structlog
import uuid_utils
from asyncpg.pool import PoolConnectionProxy

log = structlog.get_logger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
Conn = asyncpg.Connection | PoolConnectionProxy  # a plain or a pooled connection
# Row ids: read from the database (asyncpg's UUID) or made here (RFC 9562 version 7, time-ordered
# like the uuid_v7() column defaults, by uuid-utils: a tenth of the stdlib type's cost).
RowId = UUID | uuid_utils.UUID
new_id = uuid_utils.uuid7


async def release(pool: asyncpg.Pool, conn: PoolConnectionProxy) -> None:
    """Give `conn` back to `pool`; a connection that broke meanwhile is only logged (the pool
    replaces it), so that work already committed on it is never answered with an error."""
    try:
        await pool.release(conn)
    except (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
        log.warning("connection_release_failed", error=type(exc).__name__)


class Retry(Exception):
    """A concurrent transaction changed what this one read (or took a key it needed): roll back
    and run the whole transaction again."""


_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@cache
def _load(service: str) -> dict[str, str]:
    text = (SQL_DIR / "queries" / f"{service}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"sql/queries/{service}.sql names {name!r} twice")
        queries[name] = body.strip()
    return queries


def query(service: str, name: str) -> str:
    """Return the SQL text of `-- name: NAME` in `sql/queries/SERVICE.sql`.

    Raises KeyError at import time of the caller when the name is missing, so a typo never ships.
    """
    try:
        return _load(service)[name]
    except KeyError:
        raise KeyError(f"no query {name!r} in sql/queries/{service}.sql") from None


def _json_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):  # JSON text serialised already (a stored item, an answer)
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _jsonb_bytes(value: Any) -> bytes:
    return b"\x01" + _json_bytes(value)  # jsonb's binary form: version 1, then the text


def _jsonb_value(data: bytes) -> Any:
    return json.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    """Give json and jsonb parameters and results as Python values (binary format, so COPY can
    write them too). A `bytes` parameter is taken as JSON text serialised already."""
    await conn.set_type_codec(
        "json", encoder=_json_bytes, decoder=json.loads, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_bytes, decoder=_jsonb_value, schema="pg_catalog", format="binary"
    )


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    statement_timeout_ms: int = 30_000,
    application_name: str = "fraudchannel",
) -> asyncpg.Pool:
    """Return a pool whose connections decode json/jsonb and carry a statement timeout."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
            "timezone": "UTC",
        },
    )
    return pool


def record_dict(record: asyncpg.Record | None) -> dict[str, Any] | None:
    """Return a record as a plain dict (None stays None)."""
    return None if record is None else dict(record)
