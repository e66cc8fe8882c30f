"""The `fraudchannel` command: serve, migrate, and the operator's registry commands."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator

import asyncpg
import click
import structlog

from fraudchannel import migrations
from fraudchannel.logs import configure_logging
from fraudchannel.settings import Settings, unknown_env_names

log = structlog.get_logger("fraudchannel")


def load_settings() -> Settings:
    """Return Settings from the environment; exit 2 naming any unknown FRAUDCHANNEL_* variable."""
    unknown = unknown_env_names()
    if unknown:
        known = ", ".join(f"FRAUDCHANNEL_{n.upper()}" for n in Settings.model_fields)
        raise click.UsageError(f"unknown setting(s): {', '.join(unknown)} (known: {known})")
    try:
        return Settings()
    except ValueError as exc:
        raise click.UsageError(f"invalid setting: {exc}") from exc


@contextlib.contextmanager
def database(settings: Settings, *, fsync: bool = True) -> Iterator[Settings]:
    """Yield settings with a database URL, starting the embedded PostgreSQL when none is set.

    The embedded server is stopped on exit only when this call started it.
    """
    if settings.database_url is not None:
        yield settings
        return
    if not settings.embedded_pg:
        raise click.UsageError("DATABASE_URL is required (FRAUDCHANNEL_EMBEDDED_PG is false)")
    from fraudchannel.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError

    server = EmbeddedPostgres(settings.pg_data_dir, port=settings.pg_port, fsync=fsync)
    try:
        dsn = server.start()
    except EmbeddedPostgresError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield settings.model_copy(update={"database_url": dsn})
    finally:
        if not server.adopted:  # a server `make run` started stays up for it
            server.stop()


async def _connect(settings: Settings) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(str(settings.database_url))
    return conn


async def _migrate(settings: Settings) -> list[int]:
    conn = await _connect(settings)
    try:
        return await migrations.migrate(conn)
    finally:
        await conn.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Fraud-reporting channel between trusted flaggers and an online platform.

    Settings come from FRAUDCHANNEL_* environment variables (see README); DATABASE_URL names the
    PostgreSQL server, and without it an embedded one is started in FRAUDCHANNEL_PG_DATA_DIR.
    """
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    ctx.obj = settings


@main.command()
@click.option(
    "--workers",
    type=click.IntRange(0, 256),
    default=None,
    help="Worker processes (default FRAUDCHANNEL_WORKERS; 0: one per CPU).",
)
@click.pass_obj
def serve(settings: Settings, workers: int | None) -> None:
    """Apply migrations and serve HTTP on FRAUDCHANNEL_HOST:FRAUDCHANNEL_PORT."""
    from fraudchannel import serving

    count = serving.worker_count(settings.workers if workers is None else workers)
    try:  # first: a port in use is reported before anything else starts
        listener = serving.bind(settings)
    except serving.BindError as exc:
        raise click.ClickException(str(exc)) from None
    with listener, database(settings) as ready:
        if ready.migrate_on_start and count > 1:
            asyncio.run(_migrate(ready))  # once, before the workers race for the lock
        log.info(
            "server_starting", host=ready.host, port=ready.port, url=ready.base_url, workers=count
        )
        serving.serve(ready, listener, count)


@main.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Apply pending database migrations (safe to run from several processes at once)."""

    with database(settings) as ready:
        applied = asyncio.run(_migrate(ready))
    click.echo(f"applied {len(applied)} migration(s): {applied}" if applied else "up to date")


from fraudchannel.cli_orgs import register as _register_registry  # noqa: E402

_register_registry(main)


def run() -> None:
    """Entry point of the console script."""
    sys.exit(main(standalone_mode=True))
