"""Client authentication at the token endpoint: the `private_key_jwt` client assertion.

An organisation proves who it is with a JWT signed by one of its registered keys (RFC 7523 §2.2,
RFC 7521 §4.2). Every rule of RFC 7523 §3 is checked here, and every failure is an RFC 6749
§5.2 `invalid_client` (RFC 7523 §3.2 / RFC 7521 §4.2.1 say so), answered with 401.

The order matters: nothing the assertion says is believed before its signature verifies, so the
errors before that point say nothing about the organisation. `invalid_grant` is never answered:
in the client-credentials grant the client's authentication is the whole grant, and RFC 7523
§3.2 names `invalid_client` for a bad client assertion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, TypeGuard
from uuid import UUID

import asyncpg
import jwt
from jwt import PyJWK
from jwt.exceptions import InvalidSubjectError

from fraudchannel.client import ALGORITHMS
from fraudchannel.db import query
from fraudchannel.errors import FraudChannelError
from fraudchannel.settings import Settings

MAX_ASSERTION_BYTES: Final = 8 * 1024
MAX_JTI_CHARS: Final = 256
PURGE_BATCH: Final = 100  # expired jti rows forgotten per assertion spent
# RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_NOT_NQSCHAR: Final = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")

CLIENT_KEY = query("tokens", "client_key")
PURGE_USED_ASSERTIONS = query("tokens", "purge_used_assertions")
USE_ASSERTION = query("tokens", "use_assertion")

_STANDING_TEXT: Final = {
    "suspended": "the organisation is suspended",
    "revoked": "the organisation is revoked",
    "not_yet_valid": "the organisation is not valid yet (valid_from lies ahead)",
    "expired": "the organisation is no longer valid (valid_until has passed)",
}


class OAuthError(FraudChannelError):
    """An error of the token endpoint: RFC 6749 §5.2 members plus RFC 9457 problem members."""

    status, slug, title = 400, "oauth-invalid-request", "Invalid request"
    error: ClassVar[str] = "invalid_request"

    def __init__(self, detail: str) -> None:
        super().__init__(_NOT_NQSCHAR.sub("?", detail))

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """Return the JSON body: error, error_description, type, title, status, detail."""
        return {"error": self.error, "error_description": self.detail, **self.problem(instance)}


class InvalidRequest(OAuthError):
    """A parameter is missing, repeated, malformed or too large (RFC 6749 §5.2)."""


class UnsupportedGrantType(OAuthError):
    """Only grant_type=client_credentials is served (RFC 6749 §5.2, §4.4)."""

    slug, title = "oauth-unsupported-grant-type", "Unsupported grant type"
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    """The requested scope is malformed or not held by the organisation's role (RFC 6749 §5.2)."""

    slug, title = "oauth-invalid-scope", "Invalid scope"
    error = "invalid_scope"


class InvalidClient(OAuthError):
    """Client authentication failed (RFC 6749 §5.2, RFC 7523 §3.2): answered with 401."""

    status, slug, title = 401, "oauth-invalid-client", "Invalid client"
    error = "invalid_client"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        # RFC 6749 §5.2 asks for a challenge naming the scheme the client used; ours is the
        # private_key_jwt method (RFC 7591 §2 token_endpoint_auth_method), not an HTTP scheme.
        self.headers["WWW-Authenticate"] = 'private_key_jwt realm="fraudchannel"'


@dataclass(frozen=True, slots=True)
class Client:
    """An organisation whose client assertion verified; `jti` is not spent yet (see `spend`)."""

    org_id: UUID
    slug: str
    role: str
    trust_tier: int
    kid: str
    jti: str
    expires_at: datetime  # the assertion's exp plus the clock leeway: the jti is kept till then


async def authenticate_client(
    pool: asyncpg.Pool, settings: Settings, assertion: str, client_id: str | None = None
) -> Client:
    """Verify a client assertion and return the organisation it authenticates.

    Checks, each failing with InvalidClient: a JWS whose header `alg` is one of ES256, EdDSA,
    PS256, RS256 and equals the registered key's (never none or HS*); `kid` names an active key
    of the client `iss` names; the signature; `iss` = `sub` = the client id (RFC 7523 §3 items
    1, 2); `aud` exactly settings.token_endpoint (item 3); `exp` present (item 4), not past and
    at most assertion_max_ttl_s ahead; `nbf` and `iat` not ahead (items 5, 6), all with
    clock_leeway_s; `jti` present (item 7); `client_id`, when sent, equal to `iss` (RFC 7521
    §4.2); the organisation active and within its validity dates.
    """
    if len(assertion) > MAX_ASSERTION_BYTES:
        raise InvalidRequest(f"client_assertion is longer than {MAX_ASSERTION_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidClient("client_assertion is not a well-formed signed JWT") from exc
    alg, kid, iss = header.get("alg"), header.get("kid"), unverified.get("iss")
    if alg not in ALGORITHMS:
        raise InvalidClient(f"the assertion's alg must be one of {', '.join(ALGORITHMS)}")
    if not _storable(kid):
        raise InvalidClient("the assertion's header must carry the kid of a registered key")
    if not _storable(iss):
        raise InvalidClient("the assertion's iss must be the client id")
    if "jti" in unverified and not _storable(unverified["jti"]):
        raise InvalidClient(f"the assertion's jti must be 1 to {MAX_JTI_CHARS} characters")
    _check_numeric_dates(unverified)
    if client_id is not None and client_id != iss:
        raise InvalidClient("client_id differs from the assertion's iss")
    row = await pool.fetchrow(CLIENT_KEY, iss, kid)
    if row is None:
        raise InvalidClient("no active key with this kid is registered for this client")
    if alg != row["alg"]:
        raise InvalidClient(
            f"the assertion's alg differs from the key's registered alg {row['alg']}"
        )
    claims = _verified_claims(assertion, PyJWK(row["jwk"], row["alg"]), row["slug"], settings)
    if row["standing"] != "active":
        raise InvalidClient(_STANDING_TEXT.get(row["standing"], "the organisation is not active"))
    return Client(
        org_id=row["org_id"],
        slug=row["slug"],
        role=row["role"],
        trust_tier=row["trust_tier"],
        kid=kid,
        jti=claims["jti"],
        expires_at=datetime.fromtimestamp(claims["exp"] + settings.clock_leeway_s, UTC),
    )


def _storable(value: object) -> TypeGuard[str]:
    """Return whether `value` is a non-empty string PostgreSQL text can hold and compare.

    JSON lets a JWT carry "\\u0000" and lone surrogates ("\\ud800"); neither can be sent to
    the database (NUL is refused, a surrogate does not encode as UTF-8), so such a kid, iss or
    jti names nothing and is refused before any query.
    """
    if not isinstance(value, str) or not value or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_numeric_dates(claims: dict[str, Any]) -> None:
    """Raise InvalidClient when exp, iat or nbf is present but not a number (RFC 7519 §2).

    Checked before the signature (it reveals nothing): PyJWT reads `true` as 1 and would answer
    "expired" for a claim that is simply of the wrong type.
    """
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidClient(f"the assertion's {name} must be a number (RFC 7519 NumericDate)")


def _verified_claims(assertion: str, key: PyJWK, slug: str, settings: Settings) -> dict[str, Any]:
    """Return the claims once signature and RFC 7523 §3 items 1-7 hold; raise InvalidClient."""
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key,
            algorithms=[key.algorithm_name],
            audience=settings.token_endpoint,
            issuer=slug,
            subject=slug,
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
                "strict_aud": True,  # aud is the token endpoint, alone (RFC 7523 §3 item 3)
                "require": ["iss", "sub", "aud", "exp", "jti"],
                "enforce_minimum_key_length": True,
            },
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidClient("the client assertion has expired (exp)") from exc
    except jwt.ImmatureSignatureError as exc:
        raise InvalidClient("the client assertion is not valid yet (nbf or iat ahead)") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidClient(
            f"the assertion's aud must be exactly {settings.token_endpoint}"
        ) from exc
    except (jwt.InvalidIssuerError, InvalidSubjectError) as exc:
        raise InvalidClient("the assertion's iss and sub must both be the client id") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidClient(f"the client assertion lacks the {exc.claim} claim") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidClient("the assertion's signature does not verify with the key") from exc
    except jwt.PyJWTError as exc:
        raise InvalidClient("the client assertion is not valid") from exc
    _check_numeric_dates(claims)
    ahead = claims["exp"] - datetime.now(UTC).timestamp()
    if ahead > settings.assertion_max_ttl_s + settings.clock_leeway_s:
        raise InvalidClient(
            f"the assertion's exp lies more than {settings.assertion_max_ttl_s} s ahead"
        )
    jti = claims["jti"]
    if not jti or len(jti) > MAX_JTI_CHARS:
        raise InvalidClient(f"the assertion's jti must be 1 to {MAX_JTI_CHARS} characters")
    return claims


async def spend(pool: asyncpg.Pool, client: Client) -> None:
    """Record the assertion's jti as used; raise InvalidClient when it was used before.

    RFC 7523 §3 item 7: single use, enforced by the primary key of used_assertions (INSERT ...
    ON CONFLICT DO NOTHING, so two processes given the same assertion cannot both accept it).
    Expired ids are forgotten a few at a time on the way.
    """
    async with pool.acquire() as conn:
        await conn.execute(PURGE_USED_ASSERTIONS, PURGE_BATCH)
        fresh = await conn.fetchval(USE_ASSERTION, client.org_id, client.jti, client.expires_at)
    if fresh is None:
        raise InvalidClient("this client assertion was used before (jti); sign a new one")
