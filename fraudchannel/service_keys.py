"""The service's own signing keys for access tokens (ES256), kept in PostgreSQL and rotatable.

Exactly one key is active and signs. `rotate` retires it, dropping its private half, and makes a
new one. A retired key stays published at `/.well-known/jwks.json`, and keeps verifying, for the
access-token lifetime plus the clock leeway, so every token it signed lives out its time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg
import structlog
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK

from fraudchannel.client import generate_private_key, load_private_key, private_key_pem, public_jwk
from fraudchannel.db import query
from fraudchannel.errors import Conflict, NotReady
from fraudchannel.settings import Settings

log = structlog.get_logger(__name__)

ALG: Final = "ES256"
CACHE_MAX_AGE_S: Final = 60.0  # how soon a process notices a retirement made elsewhere

ACTIVE_SERVICE_KEY = query("tokens", "active_service_key")
INSERT_SERVICE_KEY = query("tokens", "insert_service_key")
LOCK_SERVICE_KEYS = query("tokens", "lock_service_keys")
RETIRE_SERVICE_KEY = query("tokens", "retire_service_key")
PUBLISHED_SERVICE_KEYS = query("tokens", "published_service_keys")
LIST_SERVICE_KEYS = query("tokens", "list_service_keys")


def publication_window(settings: Settings) -> timedelta:
    """Return how long a retired key stays published: access-token lifetime plus clock leeway."""
    return timedelta(seconds=settings.access_token_ttl_s + settings.clock_leeway_s)


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A service key whose tokens may still be alive: its public JWK, verifier and dates."""

    kid: str
    jwk: dict[str, Any]
    verifier: PyJWK
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class ServiceKeyInfo:
    """One service key as the operator sees it (`fraudchannel service-key list`)."""

    kid: str
    created_at: datetime
    retired_at: datetime | None
    published: bool

    @property
    def state(self) -> str:
        """Return "active", "published" (retired, still in the JWKS) or "retired"."""
        if self.retired_at is None:
            return "active"
        return "published" if self.published else "retired"

    def as_dict(self) -> dict[str, Any]:
        """Return JSON-ready values."""
        return {
            "kid": self.kid,
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }


def _new_key() -> tuple[str, str, dict[str, Any]]:
    """Return (kid, private PKCS #8 PEM, public JWK) of a fresh ES256 key; kid = RFC 7638."""
    key = generate_private_key(ALG)
    jwk = public_jwk(key, ALG)
    return jwk["kid"], private_key_pem(key).decode("ascii"), jwk


async def ensure_service_key(pool: asyncpg.Pool) -> str:
    """Return the active key's kid, creating the first key when there is none.

    Safe when several processes start at once: the partial unique index service_keys_one_active
    lets one INSERT win and the others do nothing.
    """
    kid: str | None = await pool.fetchval(ACTIVE_SERVICE_KEY)
    if kid is None:
        new_kid, pem, jwk = _new_key()
        if await pool.fetchval(INSERT_SERVICE_KEY, new_kid, pem, jwk) is not None:
            log.info("service_key_created", kid=new_kid)
        kid = await pool.fetchval(ACTIVE_SERVICE_KEY)
    if kid is None:
        raise NotReady("no active service key")
    return kid


async def rotate(pool: asyncpg.Pool) -> tuple[str | None, str]:
    """Retire the active key (dropping its private half), make a new one; return (old, new) kids.

    Tokens signed by the old key stay valid until they expire; new tokens carry the new kid.
    Concurrent rotations run one after the other (an advisory transaction lock). Raises
    Conflict in the one race the lock cannot cover: a server creating the first key meanwhile.
    """
    kid, pem, jwk = _new_key()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(LOCK_SERVICE_KEYS)
        retired: str | None = await conn.fetchval(RETIRE_SERVICE_KEY)
        if await conn.fetchval(INSERT_SERVICE_KEY, kid, pem, jwk) is None:
            # Only when the very first key was being created by a starting server meanwhile.
            raise Conflict("another process stored a service key at the same moment; try again")
    log.info("service_key_rotated", kid=kid, retired_kid=retired)
    return retired, kid


async def list_service_keys(pool: asyncpg.Pool, settings: Settings) -> list[ServiceKeyInfo]:
    """Return every service key, newest first, with whether the JWKS still publishes it."""
    rows = await pool.fetch(LIST_SERVICE_KEYS, publication_window(settings))
    return [ServiceKeyInfo(**dict(r)) for r in rows]


class Keyring:
    """One process's view of the service keys: the signing key and the published keys, cached.

    Signing asks the database which key is active (one indexed row per token issued), so a
    rotation made by another process takes effect at the next token. Verification uses the
    cache, reloading it on an unknown kid and when it is older than CACHE_MAX_AGE_S.
    """

    def __init__(self, pool: asyncpg.Pool, publish_for: timedelta) -> None:
        self._pool = pool
        self._publish_for = publish_for
        self._signer: tuple[str, ec.EllipticCurvePrivateKey] | None = None
        self._published: dict[str, PublishedKey] = {}
        self._loaded_at = -CACHE_MAX_AGE_S  # monotonic seconds; stale until the first load
        self._generation = 0
        self._lock = asyncio.Lock()

    async def signing_key(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        """Return (kid, private key) of the active key; raise NotReady when there is none."""
        row = await self._pool.fetchrow(ACTIVE_SERVICE_KEY)
        if row is None:
            raise NotReady("no active service key")
        if self._signer is None or self._signer[0] != row["kid"]:
            key = load_private_key(row["private_pem"].encode("ascii"))
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise NotReady("the active service key is not an ES256 key")
            self._signer = (row["kid"], key)
            await self.reload()  # publish it here at once
        return self._signer

    async def verifying_key(self, kid: str) -> PublishedKey | None:
        """Return the published key `kid`, or None when no such key is published."""
        stale = time.monotonic() - self._loaded_at > CACHE_MAX_AGE_S
        if stale or kid not in self._published:
            await self.reload(self._generation)
        return self._published.get(kid)

    async def jwks(self) -> dict[str, Any]:
        """Return the JWK Set of the published keys (RFC 7517 §5), freshly read."""
        await self.reload()
        return {"keys": [k.jwk for k in self._published.values()]}

    async def reload(self, seen: int | None = None) -> None:
        """Read the published keys again; skip when a reload finished since generation `seen`.

        Callers racing on the same unknown kid thus cost one query, not one each.
        """
        async with self._lock:
            if seen is not None and seen != self._generation:
                return
            rows = await self._pool.fetch(PUBLISHED_SERVICE_KEYS, self._publish_for)
            self._published = {
                r["kid"]: PublishedKey(
                    kid=r["kid"],
                    jwk=r["public_jwk"],
                    verifier=PyJWK(r["public_jwk"], ALG),
                    created_at=r["created_at"],
                    retired_at=r["retired_at"],
                )
                for r in rows
            }
            self._loaded_at = time.monotonic()
            self._generation += 1
