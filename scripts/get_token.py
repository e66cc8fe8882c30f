#!/usr/bin/env python3
"""Obtain an access token: sign a client assertion with your private key and trade it at
`POST /oauth/token` (OAuth 2.0 client credentials with private_key_jwt, RFC 7523).

    export FC_URL=http://127.0.0.1:8080 FC_CLIENT_ID=acme-bank FC_KEY_FILE=acme.key.pem
    TOKEN=$(.venv/bin/python scripts/get_token.py)
    curl -H "Authorization: Bearer $TOKEN" "$FC_URL/v1/whoami"

Prints the access token (or, with --json, the whole token response) on stdout; messages go to
stderr. Exit status: 0 token issued, 1 refused or unreachable, 2 usage.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from fraudchannel import client

# Script settings use the FC_ prefix, not FRAUDCHANNEL_: the server refuses unknown
# FRAUDCHANNEL_* variables at start, and an integrator may well run both on one machine.


def request_token(url: str, form: dict[str, str], timeout: float) -> tuple[int, dict[str, Any]]:
    """POST `form` to the token endpoint `url`; return (HTTP status, JSON body).

    Raises OSError (urllib.error.URLError) when the server cannot be reached, ValueError for a
    URL that is not http(s) or an answer that is not a JSON object.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"{url} is not an http(s) URL")
    body = urllib.parse.urlencode(form).encode("ascii")
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    # S310: the scheme was checked just above (no file: or custom schemes).
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    answer = json.loads(raw)
    if not isinstance(answer, dict):
        raise ValueError("the token endpoint did not answer a JSON object")
    return status, answer


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="FC_URL",
    show_envvar=True,
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Base URL of the fraud channel.",
)
@click.option(
    "--client-id",
    envvar="FC_CLIENT_ID",
    show_envvar=True,
    required=True,
    help="Your organisation's slug, as the operator registered it.",
)
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="FC_KEY_FILE",
    show_envvar=True,
    required=True,
    help="Your private key (PEM), as scripts/keygen.py wrote it.",
)
@click.option(
    "--kid",
    envvar="FC_KID",
    show_envvar=True,
    help="Key id registered for the key (default: its RFC 7638 thumbprint, keygen's default).",
)
@click.option(
    "--alg",
    type=click.Choice(client.ALGORITHMS),
    help="Signature algorithm (default: ES256, EdDSA or PS256 by key type).",
)
@click.option("--scope", help="Space-separated scopes to ask for (default: all of your role's).")
@click.option("--audience", help="Token endpoint URL to name as aud (default: URL/oauth/token).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds to wait.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole JSON response.")
def main(
    url: str,
    client_id: str,
    key_file: Path,
    kid: str | None,
    alg: str | None,
    scope: str | None,
    audience: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Print an access token for your organisation."""
    base = url.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise click.BadParameter("must start with http:// or https://", param_hint="--url")
    pem = key_file.read_bytes()
    try:
        key = client.load_private_key(pem)
        alg = alg or client.default_alg(key)
        kid = kid or client.public_jwk(key, alg)["kid"]
        assertion = client.sign_client_assertion(
            pem, kid, alg, client_id, audience or f"{base}/oauth/token"
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--key-file/--alg") from exc
    endpoint = f"{base}/oauth/token"
    try:
        status, answer = request_token(endpoint, client.token_form(assertion, scope=scope), timeout)
    except (OSError, ValueError) as exc:
        click.echo(f"get_token: no answer from {endpoint}: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
    if status != 200 or "access_token" not in answer:
        error = answer.get("error", f"HTTP {status}")
        click.echo(f"get_token: refused: {error}: {answer.get('error_description', '')}", err=True)
        sys.exit(1)
    if not as_json:
        click.echo(answer["access_token"])
    click.echo(
        f"get_token: token for {client_id}, scope {answer.get('scope')!r}, "
        f"expires in {answer.get('expires_in')} s",
        err=True,
    )


if __name__ == "__main__":
    main()
