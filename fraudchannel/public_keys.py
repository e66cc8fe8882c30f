"""Reading a public key an organisation registers: one JWK (RFC 7517) or a PEM file. Pure.

Only public signing keys of the algorithms the token endpoint verifies pass (ES256, EdDSA,
PS256/RS256 with RSA of 2048 bits or more, DESIGN: Authentication); private or symmetric key
material is refused with a message that says why, so it is never stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from fraudchannel.client import PublicKey, check_key_fits, default_alg, jwk_thumbprint, public_jwk
from fraudchannel.errors import ValidationFailed

# A kid travels in JOSE headers, CLI output and logs: keep it to plain URL-safe characters.
KID: Final = re.compile(r"^[A-Za-z0-9._:+/=-]{1,128}$")
MAX_KEY_BYTES: Final = 16 * 1024
# JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
_SECRET_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A checked public key, ready to register: kid, alg, public JWK, RFC 7638 thumbprint."""

    kid: str
    alg: str
    jwk: dict[str, Any]
    thumbprint: str


def parse_public_key(data: bytes, *, kid: str | None = None, alg: str | None = None) -> ParsedKey:
    """Return the public key in `data`: one JWK (RFC 7517 §4) or a PEM SubjectPublicKeyInfo.

    Accepted: ES256 (EC P-256), EdDSA (Ed25519), PS256/RS256 (RSA, 2048..8192 bits). `kid`
    defaults to the JWK's own `kid`, else the RFC 7638 thumbprint. `alg` defaults to the JWK's
    `alg`, else ES256/EdDSA by key type; RSA keys must name theirs.
    Raises ValidationFailed for private or symmetric key material, any other key type, a weak
    key, an alg or kid that contradicts the JWK, or text that is neither JWK nor PEM.
    """
    if len(data) > MAX_KEY_BYTES:
        raise ValidationFailed(f"a key file is at most {MAX_KEY_BYTES} bytes")
    text = data.strip()
    if text.startswith(b"{"):
        key, jwk_alg, jwk_kid = _read_jwk(text)
    elif text.startswith(b"-----BEGIN"):
        key, jwk_alg, jwk_kid = _read_pem(text), None, None
    else:
        raise ValidationFailed("expected a public key as a JWK (JSON) or a PEM file")
    if alg and jwk_alg and alg != jwk_alg:
        raise ValidationFailed(f"alg {alg} contradicts the JWK's alg {jwk_alg}")
    if kid and jwk_kid and kid != jwk_kid:
        raise ValidationFailed(f"kid {kid!r} contradicts the JWK's kid {jwk_kid!r}")
    chosen = alg or jwk_alg or _implied_alg(key)
    try:
        check_key_fits(key, chosen)
        jwk = public_jwk(key, chosen, kid or jwk_kid)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    if not KID.match(jwk["kid"]):
        raise ValidationFailed("kid must be 1 to 128 characters of A-Z, a-z, 0-9 and ._:+/=-")
    return ParsedKey(kid=jwk["kid"], alg=chosen, jwk=jwk, thumbprint=jwk_thumbprint(jwk))


def _read_jwk(text: bytes) -> tuple[PublicKey, str | None, str | None]:
    try:
        jwk = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed("the JWK is not valid JSON") from exc
    if not isinstance(jwk, dict):
        raise ValidationFailed("a JWK is a JSON object")
    if "keys" in jwk:
        raise ValidationFailed("give one JWK, not a JWK set")
    secret = [m for m in _SECRET_MEMBERS if m in jwk]
    if secret:
        raise ValidationFailed(
            f"this JWK holds private or symmetric key material ({', '.join(secret)}); register the "
            "public key only and keep the private key to yourself"
        )
    if jwk.get("use", "sig") != "sig":
        raise ValidationFailed("the JWK's use must be sig")
    for member in ("alg", "kid"):
        if member in jwk and not isinstance(jwk[member], str):
            raise ValidationFailed(f"the JWK's {member} must be a string")
    readers: dict[str, Callable[[dict[str, Any]], object]] = {
        "EC": ECAlgorithm.from_jwk,
        "OKP": OKPAlgorithm.from_jwk,
        "RSA": RSAAlgorithm.from_jwk,
    }
    reader = readers.get(str(jwk.get("kty")))
    if reader is None:
        raise ValidationFailed(f"unsupported key type {jwk.get('kty')!r}: use EC, OKP or RSA")
    try:
        key = reader(jwk)
    except (InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise ValidationFailed(f"the JWK is not a valid {jwk['kty']} public key") from exc
    if not isinstance(key, PublicKey):
        raise ValidationFailed(f"unsupported key type {type(key).__name__}")
    return key, jwk.get("alg"), jwk.get("kid")


def _read_pem(text: bytes) -> PublicKey:
    if b"PRIVATE KEY" in text:
        raise ValidationFailed(
            "this is a private key; register the public key only and keep the private key to "
            "yourself"
        )
    try:
        key = serialization.load_pem_public_key(text)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("the PEM is not a public key (-----BEGIN PUBLIC KEY-----)") from exc
    if not isinstance(key, PublicKey):
        raise ValidationFailed(f"unsupported key type {type(key).__name__}")
    return key


def _implied_alg(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        raise ValidationFailed("an RSA key needs its algorithm: --alg PS256 or --alg RS256")
    return default_alg(key)
