"""Access tokens: issued at the token endpoint, verified on every `/v1` request.

The exchange is the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) with `private_key_jwt`
client authentication (RFC 7523 §2.2, see assertions.py). Access tokens are JWTs in the RFC 9068
profile (header typ "at+jwt"), signed ES256 by the active service key (service_keys.py) and
presented as Bearer tokens (RFC 6750). The registry is asked on every request, so a suspended
organisation's tokens, and the tokens obtained with a revoked key, stop working at once.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import asyncpg
import jwt

from fraudchannel.assertions import (
    MAX_ASSERTION_BYTES,
    InvalidRequest,
    InvalidScope,
    UnsupportedGrantType,
    authenticate_client,
    spend,
)
from fraudchannel.client import ASSERTION_TYPE, GRANT_TYPE
from fraudchannel.db import query
from fraudchannel.errors import Unauthorized
from fraudchannel.principal import ROLE_SCOPES, Principal
from fraudchannel.service_keys import ALG, Keyring
from fraudchannel.settings import Settings

ACCESS_TOKEN_TYP: Final = "at+jwt"  # noqa: S105 - RFC 9068 §2.1 media type, not a secret
AUTHENTICATED: Final = "authenticated"  # route pseudo-scope: any valid access token will do
# The kid of the organisation's key that signed the client assertion, so `key revoke` stops the
# tokens it obtained. A private claim (RFC 7519 §4.3), named after RFC 9068's client_id: no
# registered claim means "the client's authentication key". Not `cnf` {"kid"} (RFC 7800 §3.4):
# that binds the token to a key its presenter must prove it holds, which a Bearer token is not;
# not `kid`, the JOSE header name that here names the service's signing key.
CLIENT_KID: Final = "client_kid"
MAX_ACCESS_TOKEN_CHARS: Final = 4096  # ours are about 600
_SCOPE_TOKEN: Final = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token
_PARAMETERS: Final = (
    "grant_type",
    "client_assertion_type",
    "client_assertion",
    "scope",
    "client_id",
    "client_secret",
)

ORG_FOR_TOKEN = query("tokens", "org_for_token")


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """The parameters of a token request (RFC 6749 §4.4.2, RFC 7521 §4.2); None: not sent."""

    assertion: str
    scope: str | None
    client_id: str | None


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successful token response (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    scope: str

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON body: access_token, token_type "Bearer", expires_in, scope."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


def parse_token_request(
    fields: Sequence[tuple[str, str]], *, authorization_header: bool = False
) -> TokenRequest:
    """Return the token request in decoded form fields `[(name, value), ...]`.

    RFC 6749 §3.2: empty parameters count as absent, a repeated one is refused, unknown ones are
    ignored. Raises InvalidRequest (missing, repeated or malformed parameter; a client_secret or
    an Authorization header, since RFC 6749 §2.3 allows one client authentication method per
    request; an assertion larger than MAX_ASSERTION_BYTES), UnsupportedGrantType (anything but
    client_credentials) or InvalidScope (a malformed scope, RFC 6749 §3.3).
    """
    present = [(name, value) for name, value in fields if value and name in _PARAMETERS]
    repeated = sorted(name for name, n in Counter(name for name, _ in present).items() if n > 1)
    if repeated:
        raise InvalidRequest(f"parameters may appear once: {', '.join(repeated)} repeated")
    values = dict(present)
    grant_type = values.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is missing")
    if grant_type != GRANT_TYPE:
        raise UnsupportedGrantType(f"grant_type must be {GRANT_TYPE}")
    if "client_secret" in values or authorization_header:
        raise InvalidRequest(
            "authenticate with client_assertion only (private_key_jwt): no client_secret and "
            "no Authorization header"
        )
    if values.get("client_assertion_type") != ASSERTION_TYPE:
        raise InvalidRequest(f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = values.get("client_assertion")
    if assertion is None:
        raise InvalidRequest("client_assertion is missing")
    if len(assertion) > MAX_ASSERTION_BYTES:
        raise InvalidRequest(f"client_assertion is longer than {MAX_ASSERTION_BYTES} bytes")
    scope = values.get("scope")
    if scope is not None and not all(_SCOPE_TOKEN.match(s) for s in scope.split(" ")):
        raise InvalidScope("scope must be scope names separated by single spaces")
    return TokenRequest(assertion=assertion, scope=scope, client_id=values.get("client_id"))


def grant_scopes(role: str, requested: str | None) -> frozenset[str]:
    """Return the scopes to grant: `requested` (space-separated), or all the role's when None.

    Raises InvalidScope when a requested scope is not one of the role's (DESIGN: scopes by role).
    """
    held = ROLE_SCOPES.get(role, frozenset())
    if requested is None:
        return held
    asked = frozenset(requested.split(" "))
    missing = sorted(asked - held)
    if missing:
        raise InvalidScope(
            f"the {role} role does not hold {' '.join(missing)}; it holds {' '.join(sorted(held))}"
        )
    return asked


async def exchange(
    pool: asyncpg.Pool, settings: Settings, keyring: Keyring, request: TokenRequest
) -> TokenResponse:
    """Authenticate the client, grant the scope and issue an access token (RFC 6749 §4.4.3).

    Raises InvalidClient (assertions.authenticate_client, or a replayed jti) or InvalidScope.
    The jti is spent only once everything else has passed.
    """
    client = await authenticate_client(pool, settings, request.assertion, request.client_id)
    scopes = grant_scopes(client.role, request.scope)
    await spend(pool, client)
    token = await issue(keyring, settings, client.org_id, client.slug, client.kid, scopes)
    return TokenResponse(token, settings.access_token_ttl_s, " ".join(sorted(scopes)))


async def issue(
    keyring: Keyring,
    settings: Settings,
    org_id: UUID,
    slug: str,
    client_kid: str,
    scopes: frozenset[str],
) -> str:
    """Return an access token for organisation `slug` carrying `scopes` (RFC 9068 §2.2).

    Claims: iss = aud = settings.base_url, sub = client_id = slug, org = org id, client_kid =
    the kid of the org's key that authenticated the exchange, scope (space-separated), jti, iat,
    exp = iat + access_token_ttl_s. Header: ES256, kid (the service key's), typ at+jwt.
    """
    kid, key = await keyring.signing_key()
    now = int(time.time())
    claims = {
        "iss": settings.base_url,
        "aud": settings.base_url,
        "sub": slug,
        "client_id": slug,
        "org": str(org_id),
        CLIENT_KID: client_kid,
        "scope": " ".join(sorted(scopes)),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + settings.access_token_ttl_s,
    }
    return jwt.encode(claims, key, algorithm=ALG, headers={"kid": kid, "typ": ACCESS_TOKEN_TYP})


async def authenticate(
    pool: asyncpg.Pool, settings: Settings, keyring: Keyring, token: str
) -> Principal:
    """Return the principal of a Bearer access token (RFC 6750 §2.1 already parsed).

    Raises Unauthorized (error invalid_token, RFC 6750 §3.1) when the token is too large or not
    a JWT, not ES256/at+jwt, signed by no published service key (or by a key after its
    retirement), tampered with, expired, issued for another audience or issuer, without a
    client_kid, or when its organisation is missing or not active right now, or the org's key
    that obtained it (client_kid) is unknown or revoked (one query: the organisation by primary
    key, its key by (org_id, kid)).
    """
    if len(token) > MAX_ACCESS_TOKEN_CHARS:
        raise Unauthorized(f"the access token is longer than {MAX_ACCESS_TOKEN_CHARS} characters")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized("the access token is not a well-formed JWT") from exc
    kid = header.get("kid")
    if (
        header.get("alg") != ALG
        or header.get("typ") != ACCESS_TOKEN_TYP
        or not isinstance(kid, str)
    ):
        raise Unauthorized("the access token was not issued by this service")
    key = await keyring.verifying_key(kid)
    if key is None:
        raise Unauthorized("the access token was not signed by a current key of this service")
    claims = _verified_claims(token, key.verifier, settings)
    if (
        key.retired_at is not None
        and claims["iat"] > key.retired_at.timestamp() + settings.clock_leeway_s
    ):
        raise Unauthorized("the access token was signed by a retired key")
    try:
        org_id = UUID(claims["org"])
        scopes = frozenset(claims["scope"].split())
    except (ValueError, TypeError, AttributeError) as exc:
        raise Unauthorized("the access token is not valid") from exc
    client_kid = claims[CLIENT_KID]
    if not isinstance(client_kid, str):
        raise Unauthorized("the access token is not valid")
    row = await pool.fetchrow(ORG_FOR_TOKEN, org_id, client_kid)
    if row is None or row["slug"] != claims["sub"] or row["key_status"] is None:
        raise Unauthorized("the access token is not valid")
    if row["standing"] != "active":
        raise Unauthorized(f"the organisation is not active ({row['standing']})")
    if row["key_status"] != "active":
        raise Unauthorized(
            f"the key that obtained the access token ({client_kid}) was revoked; "
            "get a new token with an active key"
        )
    return Principal(
        org_id=org_id,
        slug=row["slug"],
        role=row["role"],
        trust_tier=row["trust_tier"],
        scopes=scopes & ROLE_SCOPES.get(row["role"], frozenset()),
        token_id=claims["jti"],
    )


def _verified_claims(token: str, key: jwt.PyJWK, settings: Settings) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALG],
            audience=settings.base_url,
            issuer=settings.base_url,
            leeway=settings.clock_leeway_s,
            options={
                "verify_signature": True,
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iat": True,
                "verify_aud": True,
                "verify_iss": True,
                "verify_sub": True,
                "verify_jti": True,
                "strict_aud": True,
                "require": ["iss", "aud", "sub", "org", CLIENT_KID, "scope", "jti", "iat", "exp"],
                "enforce_minimum_key_length": True,
            },
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the access token has expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("the access token is not valid") from exc
    return claims
