"""What the operator commands share (cli_orgs.py, cli_keys.py): running registry work on the
settings' database with its errors mapped to exit statuses, and printing for people or machines.

Output is for people unless `--json` is given (then one JSON document on stdout). Errors go to
stderr with exit status 1 (not found, conflict, a database that cannot be reached or migrated)
or 2 (bad input or usage); with `--json`, as one line of JSON, an RFC 9457 problem document
(`fraudchannel.cli.problem_document`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import asyncpg
import click

from fraudchannel import db, migrations
from fraudchannel.errors import Conflict, MigrationError, NotFound, ValidationFailed
from fraudchannel.settings import Settings

T = TypeVar("T")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


class InvalidInput(click.ClickException):
    """Bad input the operator must correct (exit status 2, like a usage error)."""

    exit_code = 2
    problem_slug: ClassVar[str] = "invalid-input"
    problem_title: ClassVar[str] = "Invalid input"


def iso_datetime(_ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """Return an ISO 8601 date or date-time option as an aware datetime (no offset: UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_registry(
    settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]], *, reads_only: bool = False
) -> T:
    """Run `work` with a pool on the settings' database; map registry errors to exit statuses.

    A command that changes the registry migrates the database first when
    FRAUDCHANNEL_MIGRATE_ON_START is on, as `serve` does (a fresh database works at once); one
    that `reads_only` never changes the schema of the database it is pointed at: when that
    database is not migrated it exits 1 saying so (a mistyped DATABASE_URL is not turned into a
    fraudchannel database by `org list`).

    Not found and conflict exit 1, invalid input 2; a database that cannot be reached, fails or
    cannot be migrated exits 1 (`cli.database_errors`). The service error stays the cause, so
    `--json` shows the same problem document as the HTTP API.
    """
    from fraudchannel import cli  # cli imports this module: import it when a command runs

    with cli.database(settings) as ready, cli.database_errors():
        try:
            return asyncio.run(with_pool(ready, work, reads_only=reads_only))
        except (NotFound, Conflict) as exc:
            raise click.ClickException(exc.detail) from exc
        except ValidationFailed as exc:
            raise InvalidInput(exc.detail) from exc


async def with_pool(
    settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]], *, reads_only: bool
) -> T:
    dsn = str(settings.database_url)
    if reads_only or settings.migrate_on_start:
        conn = await asyncpg.connect(dsn)
        try:
            if not reads_only:
                await migrations.migrate(conn)
            elif todo := await migrations.pending(conn):
                raise MigrationError(
                    f"this database is not migrated ({len(todo)} migration(s) pending), so it "
                    "holds no registry to read; check DATABASE_URL, or run `fraudchannel "
                    "migrate` (or `make run`) first"
                )
        finally:
            await conn.close()
    pool = await db.create_pool(
        dsn,
        min_size=1,
        max_size=2,
        statement_timeout_ms=settings.statement_timeout_ms,
        application_name="fraudchannel-cli",
    )
    try:
        return await work(pool)
    finally:
        await pool.close()


def emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else text)


def when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return "(none)"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )
