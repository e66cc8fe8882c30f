"""The `fraudchannel` command: serve, migrate, and the operator's registry commands.

Errors go to stderr with exit status 1 (not found, conflict, database unavailable or failing)
or 2 (bad input, bad settings or usage). When the arguments hold `--json` (before any "--"),
every error, click's own usage errors included, is printed instead as one line of JSON on stderr:
an RFC 9457 problem document `{"type", "title", "status", "detail", "exit_code"}` (see
`problem_document`), so stderr stays JSON Lines beside the JSON log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, ClassVar, NoReturn

import asyncpg
import click
import structlog
from pydantic import ValidationError

from fraudchannel import migrations
from fraudchannel.errors import PROBLEM_BASE, FraudChannelError, MigrationError
from fraudchannel.logs import configure_logging
from fraudchannel.settings import Settings, unknown_env_names
from fraudchannel.settings_errors import describe_invalid_settings

if TYPE_CHECKING:
    from fraudchannel.embedded_pg import EmbeddedPostgres

log = structlog.get_logger("fraudchannel")

# Failures that mean the database cannot be reached or will not let us in (exit status 1).
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, unreachable, unknown host, missing socket file
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InvalidAuthorizationSpecificationError,  # unknown role, wrong password
    asyncpg.InvalidCatalogNameError,  # no such database
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
_JSON_ERRORS = "fraudchannel.json_errors"  # ctx.meta key: print errors as JSON
# Problem types of click's own errors, most specific first.
_CLICK_PROBLEMS: tuple[tuple[type[click.ClickException], str, str], ...] = (
    (click.MissingParameter, "missing-parameter", "Missing parameter"),
    (click.NoSuchOption, "no-such-option", "No such option"),
    (click.BadParameter, "invalid-parameter", "Invalid parameter"),
    (click.UsageError, "usage-error", "Usage error"),
    (click.FileError, "file-error", "File error"),
)


class SettingsError(click.ClickException):
    """A FRAUDCHANNEL_* variable (or DATABASE_URL) is unknown or invalid (exit status 2).

    `problems` holds one line per bad setting: shown as one "Error: ..." line each, and joined
    with "; " into the one-line `detail` of the JSON problem document.
    """

    exit_code = 2
    problem_slug: ClassVar[str] = "invalid-settings"
    problem_title: ClassVar[str] = "Invalid settings"
    problem_status: ClassVar[int] = 400

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)

    def show(self, file: IO[Any] | None = None) -> None:
        """Print one "Error: ..." line per bad setting on stderr (or `file`)."""
        for line in self.problems:
            click.echo(f"Error: {line}", file=file, err=file is None)


class DatabaseUnavailable(click.ClickException):
    """The database cannot be reached, started or logged in to (exit status 1)."""

    problem_slug: ClassVar[str] = "database-unavailable"
    problem_title: ClassVar[str] = "Database unavailable"
    problem_status: ClassVar[int] = 503  # what the HTTP API answers for it (Unavailable)


class DatabaseFailed(click.ClickException):
    """The database answered the command with an error (exit status 1)."""

    problem_slug: ClassVar[str] = "database-error"
    problem_title: ClassVar[str] = "Database error"
    problem_status: ClassVar[int] = 500


def problem_document(exc: click.ClickException) -> dict[str, Any]:
    """Return the JSON form of a command's error: an RFC 9457 problem document.

    A service error behind it (NotFound, Conflict, ValidationFailed, MigrationError: the
    exception's __cause__) gives the same document the HTTP API answers, `status` included
    (404, 409, 422; 500 for a database that is not migrated). Every other error has a `status`
    too: its class's `problem_status` (503 for a database that cannot be reached, 500 for one
    that fails the command), else 400 for bad input or usage (exit status 2) and 500 for the
    rest. `exit_code` (the command's exit status) and, for usage errors, `command` are extension
    members. Example: {"type": ".../problems/not-found", "title": "Not found", "status": 404,
    "detail": "no organisation 'x'", "exit_code": 1}.
    """
    cause = exc.__cause__
    if isinstance(cause, FraudChannelError):
        doc = cause.problem()
    else:
        slug, title = _problem_kind(exc)
        doc = {"type": PROBLEM_BASE + slug, "title": title, "status": _problem_status(exc)}
    if isinstance(exc, SettingsError):
        doc["detail"] = "; ".join(exc.problems)  # one line, like every problem document
    else:
        doc["detail"] = exc.format_message()
    doc["exit_code"] = exc.exit_code
    usage_ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    if usage_ctx is not None:
        doc["command"] = usage_ctx.command_path
    return doc


def _problem_kind(exc: click.ClickException) -> tuple[str, str]:
    own = getattr(type(exc), "problem_slug", None), getattr(type(exc), "problem_title", None)
    if own[0] and own[1]:
        return own[0], own[1]
    for kind, slug, title in _CLICK_PROBLEMS:
        if isinstance(exc, kind):
            return slug, title
    return "error", "Error"


def _problem_status(exc: click.ClickException) -> int:
    own: int | None = getattr(type(exc), "problem_status", None)
    if own is not None:
        return own
    return 400 if exc.exit_code == 2 else 500


class _Aborted(click.ClickException):
    """The operator interrupted the command (Ctrl-C or end of input at a prompt)."""

    problem_slug: ClassVar[str] = "aborted"
    problem_title: ClassVar[str] = "Aborted"
    problem_status: ClassVar[int] = 400  # the caller's doing, not a failure of ours


def _fail_as_json(exc: click.ClickException) -> NoReturn:
    """Print `exc` as one JSON line on stderr; exit with its status (click.exceptions.Exit)."""
    click.echo(json.dumps(problem_document(exc), ensure_ascii=False), err=True)
    raise click.exceptions.Exit(exc.exit_code) from exc


def _wants_json(args: Sequence[str]) -> bool:
    words = list(args)
    return "--json" in (words[: words.index("--")] if "--" in words else words)


def _json_to_the_command(args: list[str]) -> list[str]:
    """Return `args` with a --json given before the command moved after it.

    `fraudchannel --json org list` is `fraudchannel org list --json`: each command takes --json,
    the top level has none of its own, and people type it first too.
    """
    leading = 0
    while leading < len(args) and args[leading].startswith("-") and args[leading] != "--":
        leading += 1
    if "--json" not in args[:leading] or leading == len(args):  # no command: left as it is
        return args
    rest = [a for i, a in enumerate(args) if i >= leading or a != "--json"]
    end = rest.index("--") if "--" in rest else len(rest)
    return [*rest[:end], "--json", *rest[end:]]


class _Main(click.Group):
    """The top-level group: with --json among the arguments, errors are shown as JSON."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        as_json = _wants_json(args)
        args = _json_to_the_command(args)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:  # a usage error of the top level itself
            if as_json:
                _fail_as_json(exc)
            raise
        ctx.meta[_JSON_ERRORS] = as_json
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if ctx.meta.get(_JSON_ERRORS):
                _fail_as_json(exc)
            raise
        except click.Abort:
            if ctx.meta.get(_JSON_ERRORS):
                _fail_as_json(_Aborted("Aborted!"))
            raise


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Turn an unreachable or failing database into a ClickException (exit status 1).

    Raises DatabaseUnavailable (connection refused, unknown host or database, login refused,
    server shutting down), DatabaseFailed (any other PostgreSQL error) or, for MigrationError,
    a ClickException whose cause it is. The DSN (it may hold a password) is never shown.
    """
    try:
        yield
    except MigrationError as exc:
        raise click.ClickException(exc.detail) from exc
    except _UNREACHABLE as exc:
        raise DatabaseUnavailable(f"cannot reach the database: {_describe(exc)}") from exc
    except asyncpg.PostgresError as exc:
        raise DatabaseFailed(f"the database refused the command: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def load_settings() -> Settings:
    """Return Settings from the environment.

    Raises SettingsError (exit status 2) naming any unknown FRAUDCHANNEL_* variable, or with one
    line per invalid setting (`describe_invalid_settings`).
    """
    unknown = unknown_env_names()
    if unknown:
        known = ", ".join(f"FRAUDCHANNEL_{n.upper()}" for n in Settings.model_fields)
        raise SettingsError([f"unknown setting(s): {', '.join(unknown)} (known: {known})"])
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_invalid_settings(exc)) from exc
    except ValueError as exc:  # pydantic-settings' own, e.g. a value it cannot decode
        raise SettingsError([f"invalid settings: {str(exc).splitlines()[0]}"]) from exc


@contextlib.contextmanager
def database(settings: Settings, *, fsync: bool = True) -> Iterator[Settings]:
    """Yield settings with a database URL, starting the embedded PostgreSQL when none is set.

    The embedded server, started here or found already serving the data folder (another
    `make run`, or one left by a killed run), is stopped on exit unless another process is
    still connected to it: the last one out stops it (`_stop_unless_in_use`).
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
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        yield settings.model_copy(update={"database_url": dsn})
    finally:
        _stop_unless_in_use(server, dsn)


# Connections of other processes to the embedded server (ours are closed by now); a psql
# session counts too: whoever still uses the server keeps it up.
_OTHER_CLIENTS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


def _stop_unless_in_use(server: EmbeddedPostgres, dsn: str) -> None:
    """Stop the embedded server unless another process is connected to it (then log why not).

    A second `make run` on the same data folder reuses the first one's server: stopping it when
    the first exits cut the second off for good (503s until restarted); a server whose starter
    was killed was never stopped by anyone. An unreachable server is stopped (idempotent).
    """

    async def count() -> int:
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            others = 0
            for _ in range(20):  # our workers' backends may take a moment to go after them
                others = int(await conn.fetchval(_OTHER_CLIENTS))
                if not others:
                    break
                await asyncio.sleep(0.05)
            return others
        finally:
            await conn.close()

    try:
        others = asyncio.run(count())
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        others = 0
    if others:
        log.info("embedded_pg_left_running", other_connections=others, reason="still in use")
        return
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


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
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
            with database_errors():
                asyncio.run(_migrate(ready))  # once, before the workers race for the lock
        log.info(
            "server_starting", host=ready.host, port=ready.port, url=ready.base_url, workers=count
        )
        serving.serve(ready, listener, count)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_obj
def migrate(settings: Settings, as_json: bool) -> None:
    """Apply pending database migrations (safe to run from several processes at once)."""
    with database(settings) as ready, database_errors():
        applied = asyncio.run(_migrate(ready))
    if as_json:
        click.echo(json.dumps({"applied": applied}, indent=2))
    else:
        click.echo(f"applied {len(applied)} migration(s): {applied}" if applied else "up to date")


from fraudchannel.cli_orgs import register as _register_registry  # noqa: E402

_register_registry(main)


def run() -> None:
    """Entry point of the console script."""
    sys.exit(main(standalone_mode=True))
