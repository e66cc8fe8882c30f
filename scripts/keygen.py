#!/usr/bin/env python3
"""Make a key pair for an organisation: the private key stays with you, the public JWK goes to
the operator, who registers it with `fraudchannel key add SLUG FILE`.

    .venv/bin/python scripts/keygen.py --alg ES256 --key-file acme.key.pem > acme.jwk.json

Prints the public JWK (with its kid, by default the RFC 7638 thumbprint) on stdout; writes the
private key as a PKCS #8 PEM readable by you alone (mode 0600), never over an existing file.
Exit status: 0 done, 1 the key file could not be written, 2 usage.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from fraudchannel import client

# Script settings use the FC_ prefix, not FRAUDCHANNEL_: the server refuses unknown
# FRAUDCHANNEL_* variables at start, and an integrator may well run both on one machine.
KEY_FILE_ENV = "FC_KEY_FILE"


def write_private_key(path: Path, pem: bytes) -> None:
    """Create `path` with mode 0600 and write `pem`; raise FileExistsError if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--alg",
    type=click.Choice(["ES256", "EdDSA", "PS256", "RS256"]),
    default="ES256",
    show_default=True,
    help="Signature algorithm: ES256 (P-256), EdDSA (Ed25519), PS256 or RS256 (RSA).",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=KEY_FILE_ENV,
    show_envvar=True,
    required=True,
    help="Where to write the private key (PEM, mode 0600); it must not exist yet.",
)
@click.option(
    "--jwk-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the public JWK to this file (for the operator).",
)
@click.option("--kid", help="Key id to publish (default: the RFC 7638 thumbprint of the key).")
@click.option(
    "--rsa-bits",
    type=click.IntRange(2048, 8192),
    default=3072,
    show_default=True,
    help="RSA modulus size (PS256 and RS256 only).",
)
def main(alg: str, key_file: Path, jwk_file: Path | None, kid: str | None, rsa_bits: int) -> None:
    """Make a key pair; print the public JWK, keep the private key in --key-file."""
    key = client.generate_private_key(alg, rsa_bits=rsa_bits)
    jwk = client.public_jwk(key, alg, kid)
    try:
        write_private_key(key_file, client.private_key_pem(key))
        if jwk_file is not None:
            jwk_file.write_text(json.dumps(jwk, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        click.echo(f"keygen: cannot write {exc.filename}: {exc.strerror}", err=True)
        sys.exit(1)
    click.echo(json.dumps(jwk, indent=2))
    click.echo(
        f"keygen: wrote the private key to {key_file} (mode 0600; keep it secret). "
        f"Send the public JWK (kid {jwk['kid']}) to the operator.",
        err=True,
    )
    if alg == "RS256":  # the scripts sign with PS256 for an RSA key unless told otherwise
        click.echo(
            "keygen: give get_token.py and submit.py --alg RS256 (submit.py: or FC_ALG) for this "
            "key; they sign with PS256 for an RSA key by default.",
            err=True,
        )


if __name__ == "__main__":
    main()
