"""Operator commands: `fraudchannel org ...`, `key ...` and `service-key ...`.

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
from typing import IO, Any, ClassVar, TypeVar

import asyncpg
import click

from fraudchannel import db, migrations, orgs, public_keys, service_keys
from fraudchannel.client import ALGORITHMS
from fraudchannel.errors import Conflict, MigrationError, NotFound, ValidationFailed
from fraudchannel.settings import Settings

T = TypeVar("T")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


class InvalidInput(click.ClickException):
    """Bad input the operator must correct (exit status 2, like a usage error)."""

    exit_code = 2
    problem_slug: ClassVar[str] = "invalid-input"
    problem_title: ClassVar[str] = "Invalid input"


def _iso_datetime(
    _ctx: click.Context, param: click.Parameter, value: str | None
) -> datetime | None:
    """Return an ISO 8601 date or date-time option as an aware datetime (no offset: UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def register(group: click.Group) -> None:
    """Add the registry commands to `group`."""
    group.add_command(org)
    group.add_command(key)
    group.add_command(service_key)


def _run(
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
            return asyncio.run(_with_pool(ready, work, reads_only=reads_only))
        except (NotFound, Conflict) as exc:
            raise click.ClickException(exc.detail) from exc
        except ValidationFailed as exc:
            raise InvalidInput(exc.detail) from exc


async def _with_pool(
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


def _emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else text)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return "(none)"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _describe_org(o: orgs.Organisation, keys: Sequence[orgs.OrgKey] = ()) -> str:
    now = datetime.now(UTC)
    lines = [
        f"slug:          {o.slug}",
        f"id:            {o.id}",
        f"legal name:    {o.legal_name}",
        f"role:          {o.role}",
        f"scheme:        {o.scheme}",
        f"expertise:     {', '.join(o.expertise) or '-'}",
        f"trust tier:    {o.trust_tier}",
        f"status:        {o.standing(now)}" + (f" ({o.status_reason})" if o.status_reason else ""),
        f"valid:         {_when(o.valid_from)} .. {_when(o.valid_until)}",
        f"contact:       {o.contact_email}",
        f"created:       {_when(o.created_at)}",
    ]
    if keys:
        lines.append("keys:")
        lines.extend(f"  {k.kid}  {k.alg}  {k.status}" for k in keys)
    return "\n".join(lines)


def _key_rows(keys: Sequence[orgs.OrgKey]) -> list[list[str]]:
    return [[k.kid, k.alg, k.status, _when(k.created_at), _when(k.revoked_at)] for k in keys]


# -- org ------------------------------------------------------------------------------------


@click.group()
def org() -> None:
    """Register organisations and change their standing."""


@org.command("add")
@click.argument("slug")
@click.option("--name", "legal_name", required=True, help="Legal name of the organisation.")
@click.option("--role", type=click.Choice(orgs.ROLES), required=True, help="What it may do.")
@click.option("--email", "contact_email", required=True, help="Contact e-mail of its fraud team.")
@click.option(
    "--scheme",
    type=click.Choice(orgs.SCHEMES),
    default="other",
    show_default=True,
    help="Legal basis: Ofcom ICU D14, DSA Art 22, a bilateral agreement, other.",
)
@click.option(
    "--expertise",
    multiple=True,
    help="Area of expertise (repeat, or separate with commas), e.g. investment,romance.",
)
@click.option(
    "--trust-tier",
    type=click.IntRange(1, 3),
    default=2,
    show_default=True,
    help="1 (highest) to 3.",
)
@click.option(
    "--valid-from", callback=_iso_datetime, help="Start of validity, ISO 8601 (default: now)."
)
@click.option(
    "--valid-until", callback=_iso_datetime, help="End of validity, ISO 8601 (default: none)."
)
@JSON_OPTION
@click.pass_obj
def org_add(
    settings: Settings,
    slug: str,
    legal_name: str,
    role: str,
    contact_email: str,
    scheme: str,
    expertise: tuple[str, ...],
    trust_tier: int,
    valid_from: datetime | None,
    valid_until: datetime | None,
    as_json: bool,
) -> None:
    """Register organisation SLUG (its OAuth client id), active from --valid-from."""
    areas = tuple(a.strip() for item in expertise for a in item.split(",") if a.strip())

    async def work(pool: asyncpg.Pool) -> orgs.Organisation:
        return await orgs.create_org(
            pool,
            slug=slug,
            legal_name=legal_name,
            role=role,
            contact_email=contact_email,
            scheme=scheme,
            expertise=areas,
            trust_tier=trust_tier,
            valid_from=valid_from,
            valid_until=valid_until,
        )

    made = _run(settings, work)
    _emit(as_json, made.as_dict(), f"registered {made.slug}\n{_describe_org(made)}")


@org.command("list")
@click.option("--status", type=click.Choice(orgs.STATUSES), help="Only this status.")
@click.option("--role", type=click.Choice(orgs.ROLES), help="Only this role.")
@JSON_OPTION
@click.pass_obj
def org_list(settings: Settings, status: str | None, role: str | None, as_json: bool) -> None:
    """List organisations by slug."""
    found = _run(
        settings, lambda pool: orgs.list_orgs(pool, status=status, role=role), reads_only=True
    )
    now = datetime.now(UTC)
    rows = [
        [o.slug, o.role, o.standing(now), str(o.trust_tier), o.scheme, o.legal_name] for o in found
    ]
    text = _table(["SLUG", "ROLE", "STATUS", "TIER", "SCHEME", "LEGAL NAME"], rows)
    _emit(as_json, [o.as_dict() for o in found], text)


@org.command("show")
@click.argument("slug")
@JSON_OPTION
@click.pass_obj
def org_show(settings: Settings, slug: str, as_json: bool) -> None:
    """Show organisation SLUG and its keys."""

    async def work(pool: asyncpg.Pool) -> tuple[orgs.Organisation, list[orgs.OrgKey]]:
        return await orgs.get_org(pool, slug), await orgs.list_keys(pool, slug)

    found, keys = _run(settings, work, reads_only=True)
    data = found.as_dict() | {"keys": [k.as_dict() for k in keys]}
    _emit(as_json, data, _describe_org(found, keys))


def _status_command(name: str, status: str, summary: str) -> click.Command:
    @click.argument("slug")
    @click.option("--reason", help="Why (kept with the organisation, and in the audit log).")
    @JSON_OPTION
    @click.pass_obj
    def command(settings: Settings, slug: str, reason: str | None, as_json: bool) -> None:
        changed = _run(settings, lambda pool: orgs.set_status(pool, slug, status, reason=reason))
        _emit(as_json, changed.as_dict(), f"{changed.slug} is now {changed.status}")

    command.__doc__ = summary
    return org.command(name)(command)


_status_command(
    "suspend", "suspended", "Suspend organisation SLUG: its access tokens stop working at once."
)
_status_command("reactivate", "active", "Reactivate suspended organisation SLUG.")
_status_command(
    "revoke", "revoked", "Revoke organisation SLUG for good (it cannot be reactivated)."
)


# -- key ------------------------------------------------------------------------------------


@click.group()
def key() -> None:
    """Register and revoke organisations' public keys."""


@key.command("add")
@click.argument("slug")
@click.argument("key_file", type=click.File("rb"))
@click.option(
    "--kid", help="Key id (PEM files; default: the JWK's kid, else its RFC 7638 thumbprint)."
)
@click.option(
    "--alg",
    type=click.Choice(ALGORITHMS),
    help="Signature algorithm (default: the JWK's alg; ES256 or EdDSA by key type; "
    "RSA keys must say PS256 or RS256).",
)
@JSON_OPTION
@click.pass_obj
def key_add(
    settings: Settings,
    slug: str,
    key_file: IO[bytes],
    kid: str | None,
    alg: str | None,
    as_json: bool,
) -> None:
    """Register the public key in KEY_FILE (a JWK or a PEM; - for stdin) for organisation SLUG."""
    try:
        parsed = public_keys.parse_public_key(
            key_file.read(public_keys.MAX_KEY_BYTES + 1), kid=kid, alg=alg
        )
    except ValidationFailed as exc:
        raise InvalidInput(exc.detail) from exc
    added = _run(settings, lambda pool: orgs.add_key(pool, slug, parsed))
    text = f"registered key {added.kid} ({added.alg}) for {slug}\nthumbprint: {added.thumbprint}"
    _emit(as_json, added.as_dict(), text)


@key.command("list")
@click.argument("slug")
@click.option("--active", "active_only", is_flag=True, help="Only keys that may sign.")
@JSON_OPTION
@click.pass_obj
def key_list(settings: Settings, slug: str, active_only: bool, as_json: bool) -> None:
    """List organisation SLUG's keys, newest first."""
    found = _run(
        settings, lambda pool: orgs.list_keys(pool, slug, active_only=active_only), reads_only=True
    )
    text = _table(["KID", "ALG", "STATUS", "CREATED", "REVOKED"], _key_rows(found))
    _emit(as_json, [k.as_dict() for k in found], text)


@key.command("revoke")
@click.argument("slug")
@click.argument("kid")
@JSON_OPTION
@click.pass_obj
def key_revoke(settings: Settings, slug: str, kid: str, as_json: bool) -> None:
    """Revoke key KID of organisation SLUG: it signs no client assertion from now on."""
    revoked = _run(settings, lambda pool: orgs.revoke_key(pool, slug, kid))
    _emit(as_json, revoked.as_dict(), f"revoked key {revoked.kid} of {slug}")


# -- service-key ----------------------------------------------------------------------------


@click.group("service-key")
def service_key() -> None:
    """The service's own access-token signing keys (published at /.well-known/jwks.json)."""


@service_key.command("rotate")
@JSON_OPTION
@click.pass_obj
def service_key_rotate(settings: Settings, as_json: bool) -> None:
    """Make a new signing key; tokens signed by the old one stay valid until they expire."""
    retired, kid = _run(settings, service_keys.rotate)
    text = f"new signing key {kid}" + (f" (retired {retired})" if retired else "")
    _emit(as_json, {"kid": kid, "retired_kid": retired}, text)


@service_key.command("list")
@JSON_OPTION
@click.pass_obj
def service_key_list(settings: Settings, as_json: bool) -> None:
    """List the signing keys: active, published (retired, still in the JWKS) or retired."""
    found = _run(
        settings, lambda pool: service_keys.list_service_keys(pool, settings), reads_only=True
    )
    rows = [[k.kid, k.state, _when(k.created_at), _when(k.retired_at)] for k in found]
    text = _table(["KID", "STATE", "CREATED", "RETIRED"], rows)
    _emit(as_json, [k.as_dict() for k in found], text)
