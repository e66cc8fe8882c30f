"""Migrations: safe from several processes at once, and loud when an applied file was edited."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from fraudchannel import migrations
from fraudchannel.errors import MigrationError
from tests.conftest import _swap_db
from tests.integration.test_cli_orgs import FRAUDCHANNEL, run, script_env


@pytest.fixture
async def empty_dsn(pg_admin_dsn: str) -> AsyncIterator[str]:
    """Yield the DSN of a new, empty database (dropped afterwards)."""
    name = f"fc_empty_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _swap_db(pg_admin_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.slow
async def test_two_processes_migrating_at_once_both_succeed(empty_dsn: str) -> None:
    env = script_env(empty_dsn)
    first, second = await asyncio.gather(
        run([str(FRAUDCHANNEL), "migrate"], env), run([str(FRAUDCHANNEL), "migrate"], env)
    )
    assert (first.code, second.code) == (0, 0), (first.err, second.err)
    outputs = sorted([first.out.strip(), second.out.strip()])
    known = [m.version for m in migrations.discover()]
    assert outputs == sorted([f"applied {len(known)} migration(s): {known}", "up to date"])
    conn = await asyncpg.connect(empty_dsn)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == known
        assert await migrations.is_current(conn)
    finally:
        await conn.close()


async def test_migrating_again_does_nothing(
    clone_db: Callable[[], Awaitable[str]],
) -> None:
    conn = await asyncpg.connect(await clone_db())
    try:
        assert await migrations.migrate(conn) == []
    finally:
        await conn.close()


async def test_an_edited_applied_migration_is_refused(
    clone_db: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, folder)
    first = sorted(folder.glob("0001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
    dsn = await clone_db()
    conn = await asyncpg.connect(dsn)
    other = await asyncpg.connect(dsn)
    try:
        with pytest.raises(MigrationError, match=r"0001_organisations\.sql was edited"):
            await migrations.migrate(conn, folder)
        assert not await migrations.is_current(conn, folder)
        # The advisory lock was let go (asked from another session: the lock is re-entrant).
        lock = "SELECT pg_try_advisory_lock($1::bigint)"
        assert await other.fetchval(lock, migrations.LOCK_KEY)
    finally:
        await other.close()
        await conn.close()


async def test_a_database_newer_than_the_code_is_refused(
    clone_db: Callable[[], Awaitable[str]],
) -> None:
    conn = await asyncpg.connect(await clone_db())
    try:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'later', 'x')"
        )
        with pytest.raises(MigrationError, match=r"does not know: \[9999\]"):
            await migrations.migrate(conn)
    finally:
        await conn.close()


def test_read_only_commands_never_migrate_the_database_they_are_given(empty_dsn: str) -> None:
    # Twice, a reviewer's `fraudchannel org list` against a mistyped DATABASE_URL turned a shared
    # database into a fraudchannel one. Reading commands now refuse an unmigrated database.
    from click.testing import CliRunner

    from fraudchannel.cli import main

    env: dict[str, str | None] = {
        "DATABASE_URL": empty_dsn,
        "FRAUDCHANNEL_DATABASE_URL": None,
        "FRAUDCHANNEL_LOG_LEVEL": "warning",
    }
    runner = CliRunner()
    for argv in (
        ["org", "list"],
        ["org", "show", "x"],
        ["key", "list", "x"],
        ["service-key", "list"],
    ):
        result = runner.invoke(main, [*argv, "--json"], env=env)
        assert result.exit_code == 1, (argv, result.output)
        assert "not migrated" in result.stderr, argv
    tables = asyncio.run(_table_count(empty_dsn))
    assert tables == 0
    made = runner.invoke(
        main,
        ["org", "add", "xb", "--name", "X", "--email", "a@b.example", "--role", "reporter"],
        env=env,
    )
    assert made.exit_code == 0, made.output  # a command that writes migrates, as `serve` does
    assert runner.invoke(main, ["org", "show", "xb"], env=env).exit_code == 0


async def _table_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        return count
    finally:
        await conn.close()
