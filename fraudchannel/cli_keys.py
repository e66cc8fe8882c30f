"""Operator commands for keys: organisations' public keys (`fraudchannel key ...`) and the
service's own token-signing keys (`fraudchannel service-key ...`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

import click

from fraudchannel import orgs, public_keys, service_keys
from fraudchannel.cli_common import (
    JSON_OPTION,
    InvalidInput,
    emit,
    run_registry,
    table,
    when,
)
from fraudchannel.client import ALGORITHMS
from fraudchannel.errors import ValidationFailed
from fraudchannel.settings import Settings


def key_rows(keys: Sequence[orgs.OrgKey]) -> list[list[str]]:
    return [[k.kid, k.alg, k.status, when(k.created_at), when(k.revoked_at)] for k in keys]


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
    added = run_registry(settings, lambda pool: orgs.add_key(pool, slug, parsed))
    text = f"registered key {added.kid} ({added.alg}) for {slug}\nthumbprint: {added.thumbprint}"
    emit(as_json, added.as_dict(), text)


@key.command("list")
@click.argument("slug")
@click.option("--active", "active_only", is_flag=True, help="Only keys that may sign.")
@JSON_OPTION
@click.pass_obj
def key_list(settings: Settings, slug: str, active_only: bool, as_json: bool) -> None:
    """List organisation SLUG's keys, newest first."""
    found = run_registry(
        settings, lambda pool: orgs.list_keys(pool, slug, active_only=active_only), reads_only=True
    )
    text = table(["KID", "ALG", "STATUS", "CREATED", "REVOKED"], key_rows(found))
    emit(as_json, [k.as_dict() for k in found], text)


@key.command("revoke")
@click.argument("slug")
@click.argument("kid")
@JSON_OPTION
@click.pass_obj
def key_revoke(settings: Settings, slug: str, kid: str, as_json: bool) -> None:
    """Revoke key KID of organisation SLUG: no more assertions; its tokens stop at once."""
    revoked = run_registry(settings, lambda pool: orgs.revoke_key(pool, slug, kid))
    emit(as_json, revoked.as_dict(), f"revoked key {revoked.kid} of {slug}")


# -- service-key ----------------------------------------------------------------------------


@click.group("service-key")
def service_key() -> None:
    """The service's own access-token signing keys (published at /.well-known/jwks.json)."""


@service_key.command("rotate")
@JSON_OPTION
@click.pass_obj
def service_key_rotate(settings: Settings, as_json: bool) -> None:
    """Make a new signing key; tokens signed by the old one stay valid until they expire."""
    retired, kid = run_registry(settings, service_keys.rotate)
    text = f"new signing key {kid}" + (f" (retired {retired})" if retired else "")
    emit(as_json, {"kid": kid, "retired_kid": retired}, text)


@service_key.command("list")
@JSON_OPTION
@click.pass_obj
def service_key_list(settings: Settings, as_json: bool) -> None:
    """List the signing keys: active, published (retired, still in the JWKS) or retired."""
    found = run_registry(
        settings, lambda pool: service_keys.list_service_keys(pool, settings), reads_only=True
    )
    rows = [[k.kid, k.state, when(k.created_at), when(k.retired_at)] for k in found]
    text = table(["KID", "STATE", "CREATED", "RETIRED"], rows)
    emit(as_json, [k.as_dict() for k in found], text)
