"""Operator commands for the organisation registry: `fraudchannel org ...` (the keys are in
cli_keys.py; what both share in cli_common.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
import click

from fraudchannel import orgs
from fraudchannel.cli_common import JSON_OPTION, emit, iso_datetime, run_registry, table, when
from fraudchannel.settings import Settings


def register(group: click.Group) -> None:
    """Add the registry commands (org, key, service-key) to `group`."""
    from fraudchannel.cli_keys import key, service_key

    group.add_command(org)
    group.add_command(key)
    group.add_command(service_key)


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
        f"valid:         {when(o.valid_from)} .. {when(o.valid_until)}",
        f"contact:       {o.contact_email}",
        f"created:       {when(o.created_at)}",
    ]
    if keys:
        lines.append("keys:")
        lines.extend(f"  {k.kid}  {k.alg}  {k.status}" for k in keys)
    return "\n".join(lines)


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
    "--valid-from",
    callback=iso_datetime,
    help="Start of validity, ISO 8601; no offset: UTC (default: now).",
)
@click.option(
    "--valid-until",
    callback=iso_datetime,
    help="End of validity, ISO 8601; no offset: UTC (default: none).",
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
    areas = _areas(expertise)

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

    made = run_registry(settings, work)
    emit(as_json, made.as_dict(), f"registered {made.slug}\n{_describe_org(made)}")


@org.command("update")
@click.argument("slug")
@click.option("--name", "legal_name", help="New legal name.")
@click.option("--email", "contact_email", help="New contact e-mail of its fraud team.")
@click.option("--scheme", type=click.Choice(orgs.SCHEMES), help="New legal basis.")
@click.option(
    "--expertise",
    multiple=True,
    help="Areas of expertise, replacing the current ones (repeat, or separate with commas; "
    "--expertise '' for none).",
)
@click.option("--trust-tier", type=click.IntRange(1, 3), help="1 (highest) to 3.")
@click.option(
    "--valid-from", callback=iso_datetime, help="New start of validity, ISO 8601; no offset: UTC."
)
@click.option(
    "--valid-until", callback=iso_datetime, help="New end of validity, ISO 8601; no offset: UTC."
)
@click.option("--no-end-date", is_flag=True, help="Remove the end of validity.")
@click.option("--reason", help="Why (in the audit log).")
@JSON_OPTION
@click.pass_obj
def org_update(
    settings: Settings,
    slug: str,
    legal_name: str | None,
    contact_email: str | None,
    scheme: str | None,
    expertise: tuple[str, ...],
    trust_tier: int | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    no_end_date: bool,
    reason: str | None,
    as_json: bool,
) -> None:
    """Change organisation SLUG's details; they apply to its next request.

    Only the options given change. The slug (its OAuth client id) and role never change: register
    a new organisation instead. Its standing changes with suspend, reactivate and revoke.
    """
    changes = orgs.OrgChanges(
        legal_name=legal_name,
        contact_email=contact_email,
        scheme=scheme,
        expertise=_areas(expertise) if expertise else None,
        trust_tier=trust_tier,
        valid_from=valid_from,
        valid_until=valid_until,
        no_end_date=no_end_date,
    )
    if changes.is_empty():
        raise click.UsageError(
            "nothing to change: give at least one of --name, --email, --scheme, --expertise, "
            "--trust-tier, --valid-from, --valid-until, --no-end-date"
        )
    updated, changed = run_registry(
        settings, lambda pool: orgs.update_org(pool, slug, changes, reason=reason)
    )
    summary = f"updated {slug}: {', '.join(changed)}" if changed else f"{slug} already had these"
    emit(
        as_json,
        updated.as_dict() | {"changed": list(changed)},
        f"{summary}\n{_describe_org(updated)}",
    )


def _areas(expertise: tuple[str, ...]) -> tuple[str, ...]:
    """Return the areas of repeated and comma-separated --expertise values, each once, in order."""
    areas = (a.strip() for item in expertise for a in item.split(","))
    return tuple(dict.fromkeys(a for a in areas if a))


@org.command("list")
@click.option("--status", type=click.Choice(orgs.STATUSES), help="Only this status.")
@click.option("--role", type=click.Choice(orgs.ROLES), help="Only this role.")
@JSON_OPTION
@click.pass_obj
def org_list(settings: Settings, status: str | None, role: str | None, as_json: bool) -> None:
    """List organisations by slug."""
    found = run_registry(
        settings, lambda pool: orgs.list_orgs(pool, status=status, role=role), reads_only=True
    )
    now = datetime.now(UTC)
    rows = [
        [o.slug, o.role, o.standing(now), str(o.trust_tier), o.scheme, o.legal_name] for o in found
    ]
    text = table(["SLUG", "ROLE", "STATUS", "TIER", "SCHEME", "LEGAL NAME"], rows)
    emit(as_json, [o.as_dict() for o in found], text)


@org.command("show")
@click.argument("slug")
@JSON_OPTION
@click.pass_obj
def org_show(settings: Settings, slug: str, as_json: bool) -> None:
    """Show organisation SLUG and its keys."""

    async def work(pool: asyncpg.Pool) -> tuple[orgs.Organisation, list[orgs.OrgKey]]:
        return await orgs.get_org(pool, slug), await orgs.list_keys(pool, slug)

    found, keys = run_registry(settings, work, reads_only=True)
    data = found.as_dict() | {"keys": [k.as_dict() for k in keys]}
    emit(as_json, data, _describe_org(found, keys))


def _status_command(name: str, status: str, summary: str) -> click.Command:
    @click.argument("slug")
    @click.option("--reason", help="Why (kept with the organisation, and in the audit log).")
    @JSON_OPTION
    @click.pass_obj
    def command(settings: Settings, slug: str, reason: str | None, as_json: bool) -> None:
        changed = run_registry(
            settings, lambda pool: orgs.set_status(pool, slug, status, reason=reason)
        )
        emit(as_json, changed.as_dict(), f"{changed.slug} is now {changed.status}")

    command.__doc__ = summary
    return org.command(name)(command)


_status_command(
    "suspend", "suspended", "Suspend organisation SLUG: its access tokens stop working at once."
)
_status_command("reactivate", "active", "Reactivate suspended organisation SLUG.")
_status_command(
    "revoke", "revoked", "Revoke organisation SLUG for good (it cannot be reactivated)."
)
