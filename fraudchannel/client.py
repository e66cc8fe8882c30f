"""The integrator's side of authentication: key pairs, public JWKs and client assertions.

An organisation signs a short JWT with its private key (RFC 7523 §2.2 client authentication) and
trades it at `POST /oauth/token` for an access token. `scripts/keygen.py`, `scripts/get_token.py`
and the test fixtures use these functions; the registry uses `jwk_thumbprint` and `public_jwk` so
that both sides compute the same default `kid` (RFC 7638). No I/O here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

# Signature algorithms an organisation's key may use (DESIGN: Authentication and authorisation).
ALGORITHMS: Final = ("ES256", "EdDSA", "PS256", "RS256")
RSA_MIN_BITS: Final = 2048
RSA_MAX_BITS: Final = 8192  # larger keys only make every verification slower

GRANT_TYPE: Final = "client_credentials"  # RFC 6749 §4.4.2
ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"  # RFC 7523 §2.2

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey

# RFC 7638 §3.2 (and RFC 8037 §2 for OKP): the members a thumbprint hashes, per key type.
_THUMBPRINT_MEMBERS: Final[dict[str, tuple[str, ...]]] = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}


def b64url(data: bytes) -> str:
    """Return `data` base64url-encoded without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of a public JWK, base64url (43 characters).

    Only the required members of the key type count (RFC 7638 §3.2), so `kid`, `alg` and `use`
    do not change it. Raises ValueError for a key type other than EC, RSA or OKP, or a missing
    member.
    """
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        raise ValueError(f"no thumbprint for key type {jwk.get('kty')!r}")
    missing = [m for m in members if not isinstance(jwk.get(m), str)]
    if missing:
        raise ValueError(f"the JWK lacks {', '.join(missing)}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def check_key_fits(key: PrivateKey | PublicKey, alg: str) -> None:
    """Raise ValueError unless `key` may sign or verify `alg`.

    ES256: P-256 only (RFC 7518 §3.4); EdDSA: Ed25519 only (RFC 8037 §3.1); PS256/RS256: RSA of
    RSA_MIN_BITS..RSA_MAX_BITS bits (RFC 7518 §3.3, §3.5 ask for at least 2048).
    """
    if alg not in ALGORITHMS:
        raise ValueError(f"unsupported alg {alg!r}: use one of {', '.join(ALGORITHMS)}")
    if alg == "ES256":
        if not (
            isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey)
            and isinstance(key.curve, ec.SECP256R1)
        ):
            raise ValueError("ES256 needs an EC key on the P-256 curve")
    elif alg == "EdDSA":
        if not isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
            raise ValueError("EdDSA needs an Ed25519 key")
    else:
        if not isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            raise ValueError(f"{alg} needs an RSA key")
        if not RSA_MIN_BITS <= key.key_size <= RSA_MAX_BITS:
            raise ValueError(
                f"RSA keys must have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits; this one has "
                f"{key.key_size}"
            )


def default_alg(key: PrivateKey | PublicKey) -> str:
    """Return the algorithm a key signs with by default: ES256, EdDSA, or PS256 for RSA."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    return "PS256"


def generate_private_key(alg: str, *, rsa_bits: int = 3072) -> PrivateKey:
    """Return a new private key for `alg` (RSA: `rsa_bits`, e = 65537).

    Raises ValueError for an algorithm outside ALGORITHMS or a key size out of range.
    """
    key: PrivateKey
    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    elif alg in ("PS256", "RS256"):
        if not RSA_MIN_BITS <= rsa_bits <= RSA_MAX_BITS:
            raise ValueError(f"RSA keys must have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits")
        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    else:
        raise ValueError(f"unsupported alg {alg!r}: use one of {', '.join(ALGORITHMS)}")
    return key


def private_key_pem(key: PrivateKey) -> bytes:
    """Return `key` as an unencrypted PKCS #8 PEM (keep it to yourself: mode 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> PrivateKey:
    """Return the private key in a PEM (PKCS #8, SEC 1 or PKCS #1; not encrypted).

    Raises ValueError when the PEM is not a private key, is encrypted, or is of a type no
    algorithm in ALGORITHMS uses.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError as exc:  # cryptography: "Password was not given but private key is encrypted"
        raise ValueError("the private key is encrypted; give an unencrypted PEM") from exc
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def public_jwk(key: PrivateKey | PublicKey, alg: str, kid: str | None = None) -> dict[str, Any]:
    """Return the public JWK of `key` for `alg`: the key members plus kid, alg and use="sig".

    `kid` defaults to the RFC 7638 thumbprint. Raises ValueError when the key does not fit `alg`
    (see check_key_fits). A private key's private members never appear in the result.
    """
    check_key_fits(key, alg)
    public: PublicKey = (
        key.public_key()
        if isinstance(
            key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
        )
        else key
    )
    if isinstance(public, ec.EllipticCurvePublicKey):
        full = ECAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        full = OKPAlgorithm.to_jwk(public, as_dict=True)
    else:
        full = RSAAlgorithm.to_jwk(public, as_dict=True)
    jwk: dict[str, Any] = {m: full[m] for m in _THUMBPRINT_MEMBERS[full["kty"]]}
    jwk.update(kid=kid or jwk_thumbprint(jwk), alg=alg, use="sig")
    return jwk


def sign_client_assertion(
    private_key_pem: bytes,
    kid: str,
    alg: str,
    client_id: str,
    audience: str,
    lifetime_s: int = 60,
) -> str:
    """Return a signed client assertion (RFC 7523 §3) for `client_id` to present at `audience`.

    Claims: iss = sub = client_id (items 1, 2), aud = the token endpoint URL (item 3), exp =
    now + lifetime_s (item 4), iat = now (item 6), a fresh random jti (item 7). Header: alg, kid,
    typ "JWT". Raises ValueError when the key does not fit `alg`.
    """
    key = load_private_key(private_key_pem)
    check_key_fits(key, alg)
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime_s,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


def token_form(
    assertion: str, *, scope: str | None = None, client_id: str | None = None
) -> dict[str, str]:
    """Return the form fields of a token request (RFC 6749 §4.4.2 with RFC 7521 §4.2)."""
    form = {
        "grant_type": GRANT_TYPE,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    if scope:
        form["scope"] = scope
    if client_id:
        form["client_id"] = client_id
    return form
