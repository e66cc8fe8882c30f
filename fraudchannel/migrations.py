"""Forward-only numbered SQL migrations (`sql/migrations/NNNN_name.sql`).

Each file runs in its own transaction under a PostgreSQL advisory lock, so processes starting
together are safe; each applied file is recorded with its SHA-256 in `schema_migrations`, and an
applied file that was edited afterwards is refused loudly.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import structlog

from fraudchannel.db import SQL_DIR, Conn
from fraudchannel.errors import MigrationError

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = SQL_DIR / "migrations"
LOCK_KEY = 0x46_52_41_55_44  # "FRAUD": pg_advisory_lock key shared by every process
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: its number, name, SQL text and SHA-256 (hex)."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """Return the SHA-256 of the file's text, hex."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Return the migrations in `folder`, by version.

    Raises MigrationError on a file that is not named NNNN_name.sql or on a repeated number.
    """
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name!r} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return found


async def pending(conn: Conn, folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Return migrations not yet applied; raise MigrationError if an applied one was edited."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied: dict[int, str] = {}
    if exists:
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        applied = {r["version"]: r["checksum"] for r in rows}
    todo = []
    for migration in discover(folder):
        recorded = applied.get(migration.version)
        if recorded is None:
            todo.append(migration)
        elif recorded != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name}.sql was edited after it was "
                "applied (checksum differs); write a new migration instead",
                version=migration.version,
            )
    known = {m.version for m in discover(folder)}
    unknown = sorted(set(applied) - known)
    if unknown:
        raise MigrationError(
            f"the database has migrations this code does not know: {unknown}; deploy newer code"
        )
    return todo


async def migrate(conn: Conn, folder: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply every pending migration, each in its own transaction; return the versions applied."""
    await conn.execute("SELECT pg_advisory_lock($1::bigint)", LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        done = []
        for migration in await pending(conn, folder):
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) "
                    "VALUES ($1::integer, $2::text, $3::text)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration_applied", version=migration.version, name=migration.name)
            done.append(migration.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1::bigint)", LOCK_KEY)


async def is_current(conn: Conn, folder: Path = MIGRATIONS_DIR) -> bool:
    """Return True when every migration is applied and none was edited."""
    try:
        return not await pending(conn, folder)
    except MigrationError:
        return False
